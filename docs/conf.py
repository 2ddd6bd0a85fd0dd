"""Sphinx configuration of the tabular-pg documentation (``sphinx-build -W -b html docs docs/_build/html``).

The API reference is generated from the numpydoc docstrings: ``api/names.rst`` lists every name in
``tabular_pg.__all__`` (and the public modules ``tabular_pg.io``, ``tabular_pg.estimators``,
``tabular_pg.rational``, ``tabular_pg.sweep``, ``mdps``), written by :func:`write_api_lists` at build
time, so that a new public name cannot be missing from the reference.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tabular_pg  # noqa: E402

project = "tabular-pg"
author = "The tabular-pg developers"
copyright = "2026, The tabular-pg developers"
release = tabular_pg.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True
napoleon_use_rtype = False
# shapes such as ``(S, A)`` in the numpydoc type fields are not cross-references to attributes named A
suppress_warnings = ["autosummary.import_cycle", "ref.python"]
nitpicky = False

html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"tabular-pg {release}"

MODULES = ["tabular_pg.io", "tabular_pg.estimators", "tabular_pg.sweep", "mdps", "tabular_pg.exact.rational"]


def write_api_lists() -> None:
    """Write ``api/names.rst`` and ``api/modules.rst``: one autosummary entry per public name and module."""
    names = [n for n in tabular_pg.__all__ if n not in {"io", "estimators", "oracles", "algorithms", "rational"}]
    out = Path(__file__).parent / "api"
    out.mkdir(exist_ok=True)
    head = [".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
    names_page = ["Names in ``tabular_pg``", "=" * 24, "", *head, *(f"   tabular_pg.{n}" for n in names)]
    (out / "names.rst").write_text("\n".join(names_page) + "\n")
    modules_page = ["Modules", "=======", "",
                    "``tabular_pg.io`` (files, gymnasium, pymdptoolbox), ``tabular_pg.estimators`` (the sampled",
                    "estimators), ``tabular_pg.sweep`` (grids on Dask), ``mdps`` (the MDP zoo) and",
                    "``tabular_pg.exact.rational`` (exact rational arithmetic, ``tabular_pg.rational``).", "",
                    ".. autosummary::", "   :toctree: generated", "   :recursive:", "",
                    *(f"   {m}" for m in MODULES)]
    (out / "modules.rst").write_text("\n".join(modules_page) + "\n")


write_api_lists()
