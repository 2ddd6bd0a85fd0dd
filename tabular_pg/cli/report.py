"""The tour of ``tabular-pg tour``: exact quantities, estimators, algorithms, proofs.

:func:`tour` runs every section whose modules are installed, writes ``report.md`` and
PNG figures into a directory and returns the printed summary.  A section is a function
``(setting, out_dir, progress) -> Section``; sections on estimators, algorithms and
proofs live in :mod:`tabular_pg.cli.sections`.
"""
from __future__ import annotations

import importlib
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tabular_pg.cli.format import num, progress, table
from tabular_pg.exact.evaluation import evaluate
from tabular_pg.exact.gradient import natural_gradient, policy_gradient
from tabular_pg.mdp import FiniteMDP
from tabular_pg.exact.planning import optimum
from tabular_pg.policies import TabularSoftmax

__all__ = ["Setting", "Section", "tour", "exact_quantities", "mdp_summary", "softmax_gradient",
           "dadashi_mdp", "module_available", "require_module"]


@dataclass(frozen=True)
class Setting:
    """The MDPs and budgets of a tour (zoo specs, sample sizes, iterations, seeds)."""

    chain: str = "chain:H=10"
    garnet: str = "garnet:S=10,A=3,b=3,seed=0,gamma=0.9"
    n_values: tuple = (10, 30, 100, 300)
    seeds: int = 20
    horizons: tuple = (2, 3, 4, 6, 8)
    iterations: int = 100
    sampled_n: int = 50
    algo_seeds: int = 3
    proof_claims: int | None = None          # None: every claim of the proofs package


SMALL = Setting(chain="chain:H=4", garnet="garnet:S=6,A=3,b=2,seed=0,gamma=0.9", n_values=(10, 40),
                seeds=4, horizons=(2, 3, 4), iterations=15, sampled_n=10, algo_seeds=2, proof_claims=2)


@dataclass
class Section:
    """One part of the tour: printed summary lines, Markdown for report.md, JSON data."""

    title: str
    lines: list
    markdown: str
    data: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)


def module_available(name: str) -> bool:
    """Whether ``name`` imports (a section appears once its module has landed)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def require_module(name: str, attribute: str, message: str):
    """The module ``name`` if it imports and has ``attribute``; else ``ValueError(message)``."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        module = None
    if module is None or not hasattr(module, attribute):
        raise ValueError(message)
    return module


def mdp_summary(mdp: FiniteMDP, name: str) -> dict:
    """Name, sizes, discount, horizon and storage of ``mdp``."""
    return {"name": name, "S": mdp.n_states, "A": mdp.n_actions, "gamma": mdp.gamma,
            "horizon": mdp.horizon, "sparse": mdp.is_sparse}


def softmax_gradient(mdp: FiniteMDP, ev) -> np.ndarray:
    """:math:`\\nabla_\\theta J` of the tabular softmax at :math:`\\theta = \\log\\pi` (the
    limit :math:`\\tilde d(s)\\pi(a|s)A(s,a)` where :math:`\\pi(a|s) = 0`)."""
    pi = ev.pi
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions, horizon=pi.shape[0] if pi.ndim == 3 else None)
    theta = np.log(np.maximum(pi, np.finfo(float).tiny)).ravel()
    return policy_gradient(mdp, policy, theta, evaluation=ev)


def exact_quantities(mdp: FiniteMDP, policy_of) -> dict:
    """Evaluation of ``policy_of(optimum)`` (or of the array ``policy_of``), ``J*`` and
    the norm of the softmax gradient."""
    opt = optimum(mdp)
    pi = policy_of(opt) if callable(policy_of) else policy_of
    ev = evaluate(mdp, pi)
    return {"evaluation": ev, "optimum": opt, "J_star": opt.J,
            "gradient_norm": float(np.linalg.norm(softmax_gradient(mdp, ev)))}


def zoo_mdp(spec: str) -> FiniteMDP:
    from tabular_pg.cli.commands import resolve_mdp
    return resolve_mdp(spec).mdp


def dadashi_mdp() -> FiniteMDP:
    """The two-state, two-action MDP of Dadashi et al. (2019), Figure 2(d), gamma = 0.9."""
    from tabular_pg.io.files import from_pymdptoolbox
    P = np.array([[[0.7, 0.3], [0.2, 0.8]], [[0.99, 0.01], [0.99, 0.01]]])
    return from_pymdptoolbox(P, np.array([[-0.45, -0.1], [0.5, 0.5]]), 0.9)


# ------------------------------------------------------------------------ exact section
def _exact_row(spec: str, mdp: FiniteMDP) -> dict:
    uniform = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
    q = exact_quantities(mdp, uniform)
    ev = q["evaluation"]
    theta = TabularSoftmax(mdp.n_states, mdp.n_actions).initial()
    npg = natural_gradient(mdp, TabularSoftmax(mdp.n_states, mdp.n_actions), theta)
    V0 = ev.V[0] if mdp.horizon is not None else ev.V
    return {"mdp": mdp_summary(mdp, spec), "J_uniform": ev.J, "J_star": q["J_star"],
            "gradient_norm": q["gradient_norm"], "natural_gradient_norm": float(np.linalg.norm(npg)),
            "residual": ev.residual, "solver": ev.solver, "V": V0, "V_star": q["optimum"].V}


def exact_section(setting: Setting, out: Path, show: bool) -> Section:
    """J, J*, V, gradient norms and residual of the uniform policy on the chain and garnet."""
    rows = [_exact_row(spec, zoo_mdp(spec)) for spec in (setting.chain, setting.garnet)]
    chain = rows[0]
    H, A = chain["mdp"]["horizon"], chain["mdp"]["A"]
    headers = ["MDP", "S", "A", "gamma", "H", "J(uniform)", "J*", "|grad J|", "|F+ grad J|", "residual"]
    body = [[r["mdp"]["name"], r["mdp"]["S"], r["mdp"]["A"], r["mdp"]["gamma"], str(r["mdp"]["horizon"]),
             r["J_uniform"], r["J_star"], r["gradient_norm"], r["natural_gradient_norm"], r["residual"]]
            for r in rows]
    identity = (f"chain: J(uniform) = {num(chain['J_uniform'], 10)} = A^-H = {A}^-{H} = {num(A ** -H, 10)} "
                f"(lecture 003: a random walk almost never sees the reward)")
    garnet = rows[1]
    vline = (f"garnet: V(uniform) in [{num(garnet['V'].min())}, {num(garnet['V'].max())}], "
             f"V* in [{num(garnet['V_star'].min())}, {num(garnet['V_star'].max())}]")
    chain_v = "chain: V_0(s) of the uniform policy = " + ", ".join(num(v, 3) for v in chain["V"])
    figure = _grid_figure(out)
    md = "\n".join(["Exact evaluation of the uniform policy (softmax at theta = 0) by linear solves / "
                    "recursions, and the optimum by policy iteration / backward induction.", "",
                    _markdown_table(headers, body), "", f"- {identity}", f"- {chain_v}", f"- {vline}"]
                   + ([f"\n![{figure['caption']}]({figure['file']})"] if figure else []))
    return Section("Exact quantities", [table(headers, body), identity, chain_v, vline], md,
                   {"rows": rows}, [figure] if figure else [])


def _grid_figure(out: Path):
    """V* and pi* of Sutton & Barto's gridworld (needs the zoo and matplotlib)."""
    if not (module_available("matplotlib") and module_available("mdps")):
        return None
    import mdps
    from tabular_pg.cli import plots
    if not hasattr(mdps, "sutton_barto_grid") or not hasattr(mdps, "grid_cells"):
        return None
    from mdps.gridworld import SUTTON_BARTO_LAYOUT
    mdp = mdps.sutton_barto_grid()
    opt = optimum(mdp)
    plots.grid_values(opt.V, mdps.grid_cells(SUTTON_BARTO_LAYOUT), out / "gridworld_values.png", pi=opt.pi,
                      title="Sutton & Barto Example 3.5: V* and pi* (gamma = 0.9)")
    return {"file": "gridworld_values.png", "caption": "V* and pi* on Sutton & Barto's gridworld"}


def _markdown_table(headers, rows) -> str:
    """A Markdown table; ``|`` inside a cell (as in ``|grad J|``) is escaped."""
    cells = [[(c if isinstance(c, str) else num(c)).replace("|", "\\|") for c in row]
             for row in [headers, *rows]]
    return "\n".join(["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(headers)]
                     + ["| " + " | ".join(r) + " |" for r in cells[1:]])


# ---------------------------------------------------------------------------------- tour
def _sections():
    from tabular_pg.cli import sections as cli_sections
    return [("exact", exact_section)] + cli_sections.available()


def tour(args) -> dict:
    """``tabular-pg tour [--out DIR] [--small]``: run the sections, write report.md.

    A section with a ``prefetch(setting)`` attribute (the proofs) starts that work in a
    background process before the first section, so that it overlaps with the others.
    The process is *spawned*, not forked: forking a process whose other threads may hold
    locks (imports, BLAS) can leave the child deadlocked.
    """
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    setting = SMALL if args.small else Setting()
    sections, timings, begin = [], {}, time.perf_counter()
    chosen = _sections()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as background:
        early = {name: background.submit(run.prefetch, setting) for name, run in chosen if hasattr(run, "prefetch")}
        for name, run in progress(chosen, args.progress, desc="tour"):
            start = time.perf_counter()
            extra = {"prefetched": early[name].result()} if name in early else {}
            sections.append(run(setting, out, args.progress, **extra))
            timings[name] = time.perf_counter() - start
    timings["total"] = time.perf_counter() - begin
    report = out / "report.md"
    report.write_text(_report_markdown(sections, setting, timings))
    lines = []
    for s in sections:
        lines += [f"== {s.title} ==", *s.lines, ""]
    figures = [str(out / f["file"]) for s in sections for f in s.figures]
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "total")
    note = "; the proofs ran in the background" if early else ""
    lines += [f"report: {report}", f"figures: {', '.join(figures) if figures else 'none (needs matplotlib)'}",
              f"time: {timings['total']:.1f} s ({parts}{note})"]
    data = {"report": str(report), "figures": figures, "timings": timings,
            "sections": {s.title: s.data for s in sections}}
    return {"text": "\n".join(lines), "data": data}


def _report_markdown(sections, setting: Setting, timings: dict) -> str:
    head = ["# tabular-pg tour", "",
            f"MDPs: `{setting.chain}` and `{setting.garnet}`. Every J, V, gradient and variance marked exact "
            "is computed by linear algebra, not sampled.", ""]
    body = []
    for s in sections:
        body += [f"## {s.title}", "", s.markdown, ""]
    tail = ["## Timings", "", _markdown_table(["section", "seconds"], [[k, v] for k, v in timings.items()])]
    return "\n".join(head + body + tail) + "\n"
