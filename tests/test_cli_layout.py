"""The import graph of tabular_pg, read with ``ast`` (imports inside functions included):
no cycle anywhere, and tabular_pg.cli on top -- its modules in one order, imported by no
module outside it.  The graph builder is also run on synthetic sources with a cycle, to show
that a cycle (one through an import inside a function, one through a relative import) is
found."""
import ast
from pathlib import Path

import mdps
import proofs
import tabular_pg

#: The modules of tabular_pg.cli, lowest first: each may import only those before it.
CLI_ORDER = ["format", "specs", "plots", "train", "sections", "report", "commands", "main", "__init__",
             "__main__"]


def package_sources(package) -> dict:
    """``{module name: (source, is_package)}`` of every ``.py`` file of ``package``."""
    root = Path(package.__file__).resolve().parent
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = (path.read_text(), is_package)
    return sources


def _absolute(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module ``from ... import`` names, with relative imports resolved."""
    if node.level == 0:
        return node.module
    package = name if is_package else name.rpartition(".")[0]
    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, source: str, is_package: bool, known: set) -> set:
    """The modules of ``known`` that ``source`` imports anywhere (module level, functions,
    ``try`` blocks): ``import a.b`` -> ``a.b``; ``from a import b`` -> ``a.b`` when it is a
    module, else ``a``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node)
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return (found & known) - {name}


def import_graph(sources: dict) -> dict:
    """``{module: set of modules it imports}`` restricted to the modules of ``sources``."""
    known = set(sources)
    return {name: imports_of(name, src, is_pkg, known) for name, (src, is_pkg) in sources.items()}


def find_cycle(graph: dict):
    """A list ``[m0, m1, ..., m0]`` of modules importing each other in a circle, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


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
