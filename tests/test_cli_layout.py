"""The import graph of tabular_pg, read with ``ast`` (imports inside functions included):
no cycle anywhere, and tabular_pg.cli on top -- its modules in one order, imported by no
module outside it.  The graph builder is also run on synthetic sources with a cycle, to show
that a cycle (one through an import inside a function, one through a relative import) is
found."""
import ast

from import_graph import find_cycle, import_graph, package_sources

import mdps
import proofs
import tabular_pg

#: The modules of tabular_pg.cli, lowest first: each may import only those before it.
CLI_ORDER = ["format", "specs", "plots", "train", "beyond", "sections", "report", "commands", "main", "__init__",
             "__main__"]


SOURCES = package_sources(tabular_pg)
GRAPH = import_graph(SOURCES)
CLI = {name for name in SOURCES if name == "tabular_pg.cli" or name.startswith("tabular_pg.cli.")}


def cli_module(short: str) -> str:
    return "tabular_pg.cli" if short == "__init__" else f"tabular_pg.cli.{short}"


def test_the_graph_is_read_from_every_module():
    assert len(SOURCES) > 30 and set(map(cli_module, CLI_ORDER)) == CLI
    assert "tabular_pg.exact.rational" in GRAPH["tabular_pg"]          # imported inside __getattr__
    assert "tabular_pg.cli.main" in GRAPH["tabular_pg.cli"]


def test_no_import_cycle_in_tabular_pg():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle)


def test_cli_modules_import_only_lower_cli_modules():
    for i, short in enumerate(CLI_ORDER):
        lower = set(map(cli_module, CLI_ORDER[:i]))
        upward = (GRAPH[cli_module(short)] & CLI) - lower
        assert not upward, f"{cli_module(short)} imports {sorted(upward)}, which come after it in CLI_ORDER"


def test_no_module_outside_cli_imports_it():
    everything = {**SOURCES, **package_sources(mdps), **package_sources(proofs)}
    graph = import_graph(everything)
    offenders = {name: sorted(graph[name] & CLI) for name in graph if name not in CLI and graph[name] & CLI}
    assert offenders == {}


def test_cli_imports_no_private_name_and_defines_one_seed():
    seeds = []
    for name in sorted(CLI):
        tree = ast.parse(SOURCES[name][0])
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                assert not private, f"{name} imports the private {private} from {node.module}"
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SEED" for t in node.targets):
                seeds.append(name)
    assert seeds == ["tabular_pg.cli.specs"]


SYNTHETIC = {
    "pkg": ("", True),
    "pkg.a": ("from pkg.b import f\n", False),
    "pkg.b": ("import numpy\n\n\ndef f():\n    from pkg import c      # lazy: still an edge\n    return c\n", False),
    "pkg.c": ("from pkg.d import g\n", False),
    "pkg.d": ("def g():\n    return 1\n", False),
}


def test_a_cycle_through_a_lazy_import_is_found():
    assert find_cycle(import_graph(SYNTHETIC)) is None                  # a -> b -> c -> d: no cycle
    closed = {**SYNTHETIC, "pkg.d": ("def g():\n    import pkg.a\n    return 1\n", False)}
    graph = import_graph(closed)
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.d"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.a"]


def test_a_cycle_through_relative_imports_is_found():
    closed = {**SYNTHETIC, "pkg.d": ("from .sub import x\n", False), "pkg.sub": ("from . import x\n", True),
              "pkg.sub.x": ("from . import y\n", False), "pkg.sub.y": ("def h():\n    from .. import a\n", False)}
    graph = import_graph(closed)
    assert graph["pkg.d"] == {"pkg.sub.x"} and graph["pkg.sub"] == {"pkg.sub.x"}
    assert graph["pkg.sub.x"] == {"pkg.sub.y"} and graph["pkg.sub.y"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.sub.x", "pkg.sub.y", "pkg.a"]
