"""One action per subcommand; each takes the parsed ``argparse.Namespace``.

``hierax-pop infer``, ``n_sage_n_pls_m_gs`` and ``f_sage_n_pls_m_gs`` share
:func:`run_infer` (``args.sampler`` is ``"nuts"``, ``"flowmc"`` or None).
"""

from __future__ import annotations

import argparse
import sys

from hierax.cli.args import model_options

__all__ = ["COMMANDS", "run_config_template", "run_infer", "run_mock", "run_report"]


def run_mock(args: argparse.Namespace) -> int:
    """Make mock catalogs (population, detections, mock posteriors) in ``args.output``."""
    from hierax.cli.mock_command import run_mock as action

    return action(args)


def run_infer(args: argparse.Namespace) -> int:
    """Hierarchical inference of the hyperparameters; writes ``args.output``."""
    from hierax.cli.infer_command import run_infer as action

    return action(args)


def run_report(args: argparse.Namespace) -> int:
    """Plots and an HTML page from the output folder ``args.directory``."""
    from hierax.cli.report import run_report as action

    return action(args)


def run_config_template(args: argparse.Namespace) -> int:
    """Write the example configs and their explanation into ``args.output``."""
    from hierax.cli.templates import write_templates

    paths = write_templates(args.output, args.only, model_options(args), force=args.force)
    for path in paths:
        print(f"wrote {path}", file=sys.stdout)
    return 0


COMMANDS = {
    "mock": run_mock,
    "infer": run_infer,
    "report": run_report,
    "config-template": run_config_template,
}
