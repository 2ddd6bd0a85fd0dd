"""``tabular-pg train`` and the tour's head-to-head of the algorithms (internal).

Every run goes through :func:`tabular_pg.algorithms.run`, which records the *exact* J of
each iterate whatever the oracle; the default hyper-parameters below are the ones the
tour uses, and ``--step`` overrides the main one of each algorithm.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tabular_pg.cli.format import num, progress, table
from tabular_pg.mdp import FiniteMDP
from tabular_pg.exact.planning import optimum
from tabular_pg.policies import Direct, TabularSoftmax
from tabular_pg.cli.report import Section, Setting, _markdown_table, dadashi_mdp, module_available, zoo_mdp

__all__ = ["ALGORITHMS", "make_algorithm", "train_once", "train_command", "algorithms_section"]

#: name -> (class name in tabular_pg.algorithms, main parameter, its default, other parameters).
ALGORITHMS = {
    "pg": ("PolicyGradient", "step", 1.0, {}),
    "npg": ("NaturalPolicyGradient", "delta", 0.05, {}),
    "cpi": ("ConservativePolicyIteration", "alpha", "line_search", {}),
    "ppo": ("PPO", "step", 0.3, {"clip": 0.2, "epochs": 10}),
    "cem": ("CEM", "std", 1.0, {"population": 30, "elite": 6}),
}
#: Algorithms the tour also runs with a sampled oracle (CPI's line search and CEM's
#: population spend a batch per candidate; ``train --sampled N`` runs them too).
SAMPLED_IN_TOUR = ("pg", "npg", "ppo")
#: Seed of the sampled oracles and of the algorithms' own randomness (seed k uses SEED + k).
SEED = 20261122


def _algorithms():
    from tabular_pg import algorithms
    from tabular_pg.algorithms import oracles
    return algorithms, oracles


def make_algorithm(name: str, step=None):
    """The algorithm ``name`` (a key of :data:`ALGORITHMS`) with its main parameter ``step``."""
    if name not in ALGORITHMS:
        raise ValueError(f"algo must be one of {sorted(ALGORITHMS)}; got {name!r}")
    algorithms, _ = _algorithms()
    cls, key, default, others = ALGORITHMS[name]
    return getattr(algorithms, cls)(**{key: default if step is None else step, **others})


def train_once(mdp: FiniteMDP, name: str, iterations: int, sampled: int | None = None, seed: int = 0,
               step=None, theta0=None, show: bool = False):
    """One run of ``name`` from the uniform policy (or ``theta0``): exact or sampled oracle."""
    algorithms, oracles = _algorithms()
    S, A = mdp.n_states, mdp.n_actions
    policy = Direct(S, A) if name == "cpi" else TabularSoftmax(S, A)
    theta = policy.initial() if theta0 is None else theta0
    if name == "cpi" and theta0 is not None:
        theta = Direct(S, A).from_probs(TabularSoftmax(S, A).probs(theta0))
    rng = np.random.default_rng(SEED + seed)
    oracle = (oracles.ExactOracle(mdp) if sampled is None
              else oracles.SampledOracle(mdp, sampled, rng=np.random.default_rng([SEED, seed])))
    return algorithms.run(make_algorithm(name, step), mdp, policy, theta, oracle, iterations, rng=rng,
                          progress=show)


def train_command(args) -> dict:
    """``tabular-pg train MDP --algo NAME [--iters N] [--sampled N] [--plot FILE]``."""
    from tabular_pg.cli.commands import resolve_mdp
    mdp = resolve_mdp(args.mdp).mdp
    hist = train_once(mdp, args.algo, args.iters, args.sampled, args.seed, _step(args.step), show=args.progress)
    J_star = optimum(mdp).J
    oracle = "exact oracle" if args.sampled is None else f"sampled oracle, n = {args.sampled} per query"
    shown = sorted(set(np.linspace(0, hist.iterations, min(11, hist.iterations + 1)).astype(int)))
    body = [[str(t), hist.J[t], J_star - hist.J[t], int(hist.trajectories[t])] for t in shown]
    lines = [f"{args.mdp}: {hist.algorithm}, {oracle}, {hist.iterations} iterations (seed {args.seed})",
             table(["iteration", "exact J", "J* - J", "trajectories"], body),
             f"J* = {num(J_star, 10)}; final J = {num(hist.J[-1], 10)}; {hist.wall_time[-1]:.2f} s"]
    if args.plot:
        from tabular_pg.cli import plots
        plots.learning_curves({args.algo: hist.J}, args.plot, J_star=J_star, title=f"{args.algo} on {args.mdp}")
        lines.append(f"learning curve: {args.plot}")
    data = {"mdp": args.mdp, "algorithm": hist.algorithm, "oracle": oracle, "J_star": J_star, "J": hist.J,
            "trajectories": hist.trajectories, "steps": hist.steps, "wall_time": hist.wall_time}
    return {"text": "\n".join(lines), "data": data}


def _step(text):
    """``--step`` as a number, or CPI's ``bound`` / ``line_search``."""
    if text is None or text in ("bound", "line_search"):
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--step must be a number (or bound / line_search for cpi); got {text!r}") from None


def _first_within(J: np.ndarray, J_star: float, fraction: float = 0.9):
    """First iteration that closes ``fraction`` of the initial gap to ``J*`` (None if never)."""
    level = J[0] + fraction * (J_star - J[0])
    hit = np.flatnonzero(J >= level)
    return int(hit[0]) if hit.size else None


def _head_to_head(spec: str, mdp: FiniteMDP, setting: Setting, show: bool, sampled: bool) -> tuple:
    J_star = optimum(mdp).J
    rows, curves = [], {}
    for name in progress(list(ALGORITHMS), show, desc=f"algorithms on {spec}"):
        exact = train_once(mdp, name, setting.iterations)
        row = [name, exact.J[-1], J_star - exact.J[-1], str(_first_within(exact.J, J_star))]
        curves[f"{name} exact"] = exact.J
        if sampled and name in SAMPLED_IN_TOUR:
            runs = [train_once(mdp, name, setting.iterations, setting.sampled_n, seed) for seed in range(setting.algo_seeds)]
            finals = np.array([h.J[-1] for h in runs])
            row += [f"{num(finals.mean(), 4)} [{num(finals.min(), 4)}, {num(finals.max(), 4)}]",
                    int(np.mean([h.trajectories[-1] for h in runs]))]
            curves[f"{name} sampled n={setting.sampled_n}"] = np.array([h.J for h in runs])
        elif sampled:
            row += ["(exact only)", "-"]
        rows.append(row)
    return J_star, rows, curves


def algorithms_section(setting: Setting, out: Path, show: bool) -> Section:
    """PG, NPG, CPI, PPO and CEM head to head, exact and sampled oracles; polytope paths."""
    lines, md, data, figures = [], [], {}, []
    for spec, sampled in ((setting.garnet, True), (setting.chain, False)):
        J_star, rows, curves = _head_to_head(spec, zoo_mdp(spec), setting, show, sampled)
        headers = ["algo", "exact J_T", "J* - J_T", "t to 90% of gap"] + (
            [f"sampled J_T ({setting.algo_seeds} seeds) [min, max]", "trajectories"] if sampled else [])
        title = f"{spec}: T = {setting.iterations} iterations from the uniform policy, J* = {num(J_star, 8)}"
        lines += [title, table(headers, rows)]
        md += [f"**{title}**", "", _markdown_table(headers, rows), ""]
        data[spec] = {"J_star": J_star, "rows": rows, "curves": curves}
        if module_available("matplotlib"):
            figures.append(_curve_figure(out, spec, curves, J_star))
    used = "algorithms: " + ", ".join(repr(make_algorithm(name)) for name in ALGORITHMS) + (
        f"; sampled oracle: REINFORCE reward-to-go, n = {setting.sampled_n} trajectories per query")
    lines.append(used)
    md += [used, ""] + [f"![{f['caption']}]({f['file']})" for f in figures]
    section = Section("Algorithms head to head", lines, "\n".join(md), data, figures)
    if module_available("matplotlib"):
        section.figures += _polytope_paths(setting, out, show, section)
    return section


def _curve_figure(out: Path, spec: str, curves: dict, J_star: float) -> dict:
    from tabular_pg.cli import plots
    name = "learning_curves_" + spec.split(":")[0] + ".png"
    plots.learning_curves(curves, out / name, J_star=J_star, title=f"exact J of every iterate: {spec}")
    return {"file": name, "caption": f"learning curves on {spec}"}


def _polytope_paths(setting: Setting, out: Path, show: bool, section: Section) -> list:
    from tabular_pg.cli.sections import polytope_section
    mdp = dadashi_mdp()
    theta0 = np.array([0.0, 3.0, 0.0, 3.0])                  # near the worst corner of the polytope
    paths = {name: train_once(mdp, name, setting.iterations, theta0=theta0).pi for name in ("pg", "npg", "cpi", "ppo")}
    poly = polytope_section(setting, out, show, paths=paths)
    section.lines += poly.lines
    section.markdown += "\n\n" + poly.markdown
    return poly.figures
