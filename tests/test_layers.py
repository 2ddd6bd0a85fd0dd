"""The architecture, checked: layers as folders, imports only downward, no cycle, no private names.

The import graph is read from the source with ``ast`` (imports inside functions included),
so a lazy import that runs back up a layer or closes a cycle fails here even if no test
happens to execute it.  Each check is also run on a small synthetic package that breaks
it, to show that it can fail.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tabular_pg as tpg

PACKAGE = Path(tpg.__file__).parent

#: The layers, lowest first: a module may import only from its own layer or those below.
LAYERS = [("tabular_pg._checks", "tabular_pg._version", "tabular_pg.progress"), ("tabular_pg.mdp", "tabular_pg.policies"),
          ("tabular_pg.exact",), ("tabular_pg.sampled",), ("tabular_pg.algorithms", "tabular_pg.io"),
          ("tabular_pg.sweep",), ("tabular_pg.cli",), ("tabular_pg",)]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(sources: dict[str, str]) -> dict[str, set[tuple[str, str]]]:
    """``{module: {(imported module, imported name)}}`` of every ``tabular_pg`` import, lazy ones too."""
    graph = {}
    for mod, text in sources.items():
        found = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {(node.module, a.name) for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {(a.name, "") for a in node.names}
        graph[mod] = {(m, n) for m, n in found if m.split(".")[0] == "tabular_pg"}
    return graph


def resolve(target: str, name: str, modules: set[str]) -> str:
    """``from target import name``: the submodule ``target.name`` if it exists, else ``target``."""
    return f"{target}.{name}" if f"{target}.{name}" in modules else target


def edges(graph) -> dict[str, set[str]]:
    modules = set(graph)
    return {m: {resolve(t, n, modules) for t, n in deps} - {m} for m, deps in graph.items()}


def find_cycle(adjacency: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph (as a list of nodes), or None; depth-first search."""
    state, stack = {}, []

    def visit(u):
        state[u] = "open"
        stack.append(u)
        for v in sorted(adjacency.get(u, ())):
            if state.get(v) == "open":
                return stack[stack.index(v):] + [v]
            if v not in state and (cycle := visit(v)):
                return cycle
        state[u] = "done"
        stack.pop()
        return None

    for u in sorted(adjacency):
        if u not in state and (cycle := visit(u)):
            return cycle
    return None


def layer(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer")


def upward_imports(graph) -> list[str]:
    return [f"{m} imports {t} (layer {layer(t)} above {layer(m)})"
            for m, deps in edges(graph).items() for t in deps
            if t.startswith("tabular_pg") and m != "tabular_pg" and not m.endswith("__init__") and layer(t) > layer(m)]


def private_imports(graph) -> list[str]:
    return [f"{m}: from {t} import {n}" for m, deps in graph.items() for t, n in deps
            if n.startswith("_") and n != "__version__" and t != m]


def package_graph():
    sources = {module_name(p, PACKAGE): p.read_text() for p in PACKAGE.rglob("*.py")}
    return imports(sources)


# -------------------------------------------------------------------- the package itself
def test_no_import_cycle_inside_tabular_pg():
    adjacency = edges(package_graph())
    # a package __init__ re-exports its modules: only the modules' own imports can form a cycle
    inits = {m for m in adjacency if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()}
    modules = {m: deps - inits for m, deps in adjacency.items() if m not in inits}
    assert find_cycle(modules) is None, find_cycle(modules)


def test_imports_only_go_down_the_layers():
    assert upward_imports(package_graph()) == []


def test_no_module_imports_a_private_name_from_another():
    assert private_imports(package_graph()) == []


def test_import_tabular_pg_loads_neither_sympy_nor_networkx():
    code = ("import sys, tabular_pg; print(sorted(m for m in ('sympy', 'networkx', 'matplotlib', 'dask') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = "import sys, tabular_pg; tabular_pg.rational; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"                     # and the lazy attribute does load it


# ----------------------------------------------------------- the checks can fail
BROKEN = {
    "tabular_pg.mdp": "from tabular_pg.exact.evaluation import evaluate\n",           # upward
    "tabular_pg.exact.evaluation": "def f():\n    from tabular_pg.exact.gradient import g\n",
    "tabular_pg.exact.gradient": "from tabular_pg.exact.evaluation import _hidden\n",  # private + cycle
}


def test_the_checks_fail_on_a_package_that_breaks_them():
    graph = imports(BROKEN)
    cycle = find_cycle(edges(graph))
    assert cycle is not None and set(cycle) == {"tabular_pg.exact.evaluation", "tabular_pg.exact.gradient"}
    assert upward_imports(graph) == ["tabular_pg.mdp imports tabular_pg.exact.evaluation (layer 2 above 1)"]
    assert private_imports(graph) == ["tabular_pg.exact.gradient: from tabular_pg.exact.evaluation import _hidden"]


# ------------------------------------------------------ results never alias the caller
def test_results_are_read_only_copies_of_the_callers_arrays():
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1
    mdp = tpg.FiniteMDP(P, np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([0.5, 0.5]), gamma=0.9)
    pi = np.full((2, 2), 0.5)
    ev = tpg.evaluate(mdp, pi)
    assert ev.pi is not pi and not np.shares_memory(ev.pi, pi) and not ev.pi.flags.writeable
    pi[0] = [1.0, 0.0]                                       # the caller changes its array ...
    assert np.array_equal(ev.pi, np.full((2, 2), 0.5))       # ... the evaluation does not change
    rewards = np.zeros((1, 2))
    traj = tpg.Trajectories(np.zeros((1, 2), int), np.zeros((1, 2), int), rewards, np.ones((1, 2), bool), 0.9)
    assert rewards.flags.writeable and not traj.rewards.flags.writeable
    assert not np.shares_memory(traj.rewards, rewards)
    batch = tpg.evaluate_batch(mdp, np.stack([pi, pi]))
    assert all(not getattr(batch, k).flags.writeable for k in ("V", "Q", "A", "d", "d_sa", "visits", "J"))


@pytest.mark.parametrize("bad, exc", [("x", TypeError), (2.5, TypeError), (True, TypeError), (0, ValueError)])
def test_one_rule_for_bad_counts_everywhere(bad, exc):
    """A wrong type is a TypeError and a wrong value a ValueError, wherever a count enters."""
    mdp = tpg.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], [1.0], gamma=0.5)
    calls = [lambda: tpg.TabularSoftmax(bad, 1), lambda: tpg.rollout(mdp, [[1.0]], bad, np.random.default_rng(0)),
             lambda: tpg.optimum(mdp, max_iterations=bad), lambda: tpg.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], [1.0],
                                                                                  gamma=0.5, horizon=bad)]
    for call in calls:
        with pytest.raises(exc):
            call()
