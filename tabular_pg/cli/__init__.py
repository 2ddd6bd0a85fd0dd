"""The ``tabular-pg`` command line, the top layer: nothing else in the package imports it.

Its modules, each importing only those before it (tests/test_cli_layout.py checks it):
:mod:`~tabular_pg.cli.format` (text, Markdown and JSON output), :mod:`~tabular_pg.cli.specs`
(MDP arguments, the seed, optional extras), :mod:`~tabular_pg.cli.plots` (figures),
:mod:`~tabular_pg.cli.train` (the algorithms), :mod:`~tabular_pg.cli.sections` (what the
tour computes), :mod:`~tabular_pg.cli.report` (the tour, rendered), :mod:`~tabular_pg.cli.commands`
(the subcommands) and :mod:`~tabular_pg.cli.main` (arguments, exit codes).
"""
from tabular_pg.cli.main import main

__all__ = ["main"]
