"""The ``hierax-pop`` command line (and GWKokab-compatible commands) over :mod:`hierax.pop`.

Modules: :mod:`~hierax.cli.args` (argument parsers), :mod:`~hierax.cli.errors`
(one-line errors, exit codes), :mod:`~hierax.cli.sampler_config` (sampler JSON),
:mod:`~hierax.cli.templates` (example configs), :mod:`~hierax.cli.commands`
(the actions) and :mod:`~hierax.cli.main` (console entry points).
"""
