"""The version of tabular-pg: its one source (setup.cfg reads it; ``tabular_pg.__version__``)."""
__version__ = "0.2.0"
