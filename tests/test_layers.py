"""The architecture, checked: layers as folders, imports only downward, no private names.

The import graph is read from the source with ``ast`` (tests/import_graph.py: imports inside
functions included), so a lazy import that runs back up a layer fails here even if no test
happens to execute it; tests/test_cli_layout.py checks that it has no cycle.  Each check is
also run on a small synthetic package that breaks it, to show that it can fail.
"""
from __future__ import annotations

import ast
import subprocess
import sys

import numpy as np
import pytest
from import_graph import find_cycle, import_graph, package_sources

import tabular_pg as tpg

#: The layers, lowest first: a module may import only from its own layer or those below.
LAYERS = [("tabular_pg._checks", "tabular_pg._version", "tabular_pg.progress"),
          ("tabular_pg.mdp", "tabular_pg.policies"),
          ("tabular_pg.exact",), ("tabular_pg.sampled",), ("tabular_pg.algorithms", "tabular_pg.io"),
          ("tabular_pg.sweep",), ("tabular_pg.cli",), ("tabular_pg",)]


def layer(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer")


def upward_imports(graph: dict) -> list[str]:
    """Imports from a higher layer; a package ``__init__`` may re-export its own modules."""
    return [f"{m} imports {t} (layer {layer(t)} above {layer(m)})" for m, deps in sorted(graph.items())
            for t in sorted(deps) if layer(t) > layer(m) and not t.startswith(m + ".")]


def private_imports(sources: dict) -> list[str]:
    """``from X import _name`` where X is another module of the package (dunders allowed)."""
    found = []
    for name, (text, _) in sorted(sources.items()):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("tabular_pg", "pkg"):
                found += [f"{name}: from {node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.endswith("__")]
    return found


SOURCES = package_sources(tpg)


# -------------------------------------------------------------------- the package itself
def test_imports_only_go_down_the_layers():
    assert upward_imports(import_graph(SOURCES)) == []


def test_no_module_imports_a_private_name_from_another():
    assert private_imports(SOURCES) == []


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
    "tabular_pg.mdp": ("from tabular_pg.exact.evaluation import evaluate\n", False),           # upward
    "tabular_pg.exact": ("from tabular_pg.exact.evaluation import evaluate\n", True),          # allowed
    "tabular_pg.exact.evaluation": ("def f():\n    from tabular_pg.exact.gradient import g\n", False),
    "tabular_pg.exact.gradient": ("from .evaluation import _hidden\n", False),                 # private
}


def test_the_checks_fail_on_a_package_that_breaks_them():
    graph = import_graph(BROKEN)
    assert upward_imports(graph) == ["tabular_pg.mdp imports tabular_pg.exact.evaluation (layer 2 above 1)"]
    relative = {**BROKEN, "tabular_pg.exact.gradient": ("from tabular_pg.exact.evaluation import _hidden\n", False)}
    assert private_imports(relative) == ["tabular_pg.exact.gradient: from tabular_pg.exact.evaluation import _hidden"]
    assert find_cycle(graph) == ["tabular_pg.exact.evaluation", "tabular_pg.exact.gradient",
                                 "tabular_pg.exact.evaluation"]


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
