"""The import graph of a package, read with ``ast`` (imports inside functions, ``try`` blocks
and relative imports included), and a cycle finder: shared by tests/test_layers.py and
tests/test_cli_layout.py."""
import ast
from pathlib import Path


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
