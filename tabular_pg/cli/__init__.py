"""The ``tabular-pg`` command line: :mod:`~tabular_pg.cli.main` (arguments, exit codes),
:mod:`~tabular_pg.cli.commands`, :mod:`~tabular_pg.cli.report` (the tour), the sections it is
made of, :mod:`~tabular_pg.cli.plots` and :mod:`~tabular_pg.cli.format` (text and JSON output).
The top layer: nothing else in the package imports it.
"""
from tabular_pg.cli.main import main

__all__ = ["main"]
