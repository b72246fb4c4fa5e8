"""The action of each subcommand, imported only when it runs.

``hierax-pop infer``, ``n_sage_n_pls_m_gs`` and ``f_sage_n_pls_m_gs`` share
:func:`hierax.cli.infer_command.run_infer` (``args.sampler`` is ``"nuts"``,
``"flowmc"`` or None).
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["COMMANDS", "run_command", "write_config_templates"]

COMMANDS = {
    "mock": ("hierax.cli.mock_command", "run_mock"),
    "infer": ("hierax.cli.infer_command", "run_infer"),
    "report": ("hierax.cli.report", "run_report"),
    "config-template": ("hierax.cli.commands", "write_config_templates"),
}
"""Subcommand -> (module, function taking the parsed ``argparse.Namespace``)."""


def run_command(args: argparse.Namespace) -> int:
    """Run the action of ``args.command``; returns the exit code."""
    module, name = COMMANDS[args.command]
    return getattr(importlib.import_module(module), name)(args)


def write_config_templates(args: argparse.Namespace) -> int:
    """Write the example configs and their explanation into ``args.output``."""
    from hierax.cli.args import model_options
    from hierax.cli.templates import write_templates

    paths = write_templates(args.output, args.only, model_options(args), force=args.force)
    for path in paths:
        print(f"wrote {path}", file=sys.stdout)
    return 0
