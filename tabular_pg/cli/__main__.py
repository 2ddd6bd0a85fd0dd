"""``python -m tabular_pg.cli``: the same as the ``tabular-pg`` command."""
import sys

from tabular_pg.cli.main import main

sys.exit(main())
