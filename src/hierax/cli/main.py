"""Console entry points: ``hierax-pop``, ``n_sage_n_pls_m_gs``, ``f_sage_n_pls_m_gs``.

Each parses its arguments, dispatches to :mod:`hierax.cli.commands` and maps
bad input to one line on stderr with exit code 2 (see :mod:`hierax.cli.errors`).
"""

from __future__ import annotations

from hierax.cli.args import build_pop_parser, build_sage_parser, check_args
from hierax.cli.errors import run_cli

__all__ = ["f_sage_main", "n_sage_main", "pop_main"]


def _dispatch(parser, argv):
    from hierax.cli import commands

    def action():
        args = check_args(parser.parse_args(argv))
        return commands.run_command(args)

    return action


def pop_main(argv=None) -> int:
    """``hierax-pop COMMAND ...``."""
    return run_cli("hierax-pop", _dispatch(build_pop_parser(), argv))


def n_sage_main(argv=None) -> int:
    """``n_sage_n_pls_m_gs``: GWKokab's NUTS command, same flags."""
    prog = "n_sage_n_pls_m_gs"
    return run_cli(prog, _dispatch(build_sage_parser(prog, "nuts"), argv))


def f_sage_main(argv=None) -> int:
    """``f_sage_n_pls_m_gs``: GWKokab's flowMC command, same flags."""
    prog = "f_sage_n_pls_m_gs"
    return run_cli(prog, _dispatch(build_sage_parser(prog, "flowmc"), argv))
