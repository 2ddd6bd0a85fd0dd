"""The sections of the tour (internal): each COMPUTES its numbers and writes its figures;
:mod:`tabular_pg.cli.report` renders them as text and Markdown.

:data:`SECTIONS` lists them in the order of the tour: exact quantities, estimators against
the exact gradient, algorithms head to head (with the value polytope), the proofs summary.
A section's ``compute(setting, out, show)`` returns a :class:`SectionResult`; a section
with a ``prefetch(setting)`` gets its result as ``compute(..., prefetched=...)`` (the tour
runs it in a background process).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import mdps
from mdps.gridworld import SUTTON_BARTO_LAYOUT
from tabular_pg.cli import beyond, plots
from tabular_pg.cli.format import num
from tabular_pg.cli.specs import SEED, dadashi_mdp, has_extra, zoo_mdp
from tabular_pg.cli.train import ALGORITHMS, SAMPLED_IN_TOUR, make_algorithm, make_oracle, train_once
from tabular_pg.exact.evaluation import evaluate, policy_transitions
from tabular_pg.exact.gradient import natural_gradient, policy_gradient
from tabular_pg.exact.planning import optimum
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import TabularSoftmax
from tabular_pg.progress import progress
from tabular_pg.sampled.registry import ESTIMATORS as REGISTRY
from tabular_pg.sampled.registry import estimate, estimator_moments
from tabular_pg.sampled.rollout import reward_bound, rollout, truncation_horizon

__all__ = ["Setting", "SMALL", "SectionResult", "Section", "SECTIONS", "ESTIMATORS", "TRUNCATION",
           "mdp_summary", "softmax_at", "softmax_gradient", "exact_quantities", "estimator_rows", "episode_truncation",
           "run_proofs", "verdict_counts", "proof_verdicts", "exact_section", "estimators_section",
           "algorithms_section", "polytope_section", "proofs_section", "beyond_section"]


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


@dataclass(frozen=True)
class SectionResult:
    """What one section computed.

    Attributes
    ----------
    title : str
    data : dict
        The numbers (``tour --json`` prints them under ``sections[title]``).
    figures : tuple of dict
        ``{"file", "caption"}`` of the PNGs written into the output directory.
    facts : dict
        What the text needs beyond ``data`` (not printed by ``--json``).
    """

    title: str
    data: dict
    figures: tuple = ()
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """A section of the tour: its name, ``compute(setting, out, show[, prefetched])`` and an
    optional ``prefetch(setting)`` (module level, so that a spawned process can run it)."""

    name: str
    compute: Callable
    prefetch: Callable | None = None


#: Trajectory estimators compared, ``(label, name, options)``: the CLI settings of the entries of
#: :data:`tabular_pg.sampled.registry.ESTIMATORS` in registry order.
ESTIMATORS = tuple((label, name, dict(options)) for name, spec in REGISTRY.items() for label, options in spec.cli)
#: Infinite horizons are truncated where the neglected discounted return is below this,
#: identically for the rollouts and for the exact moments.
TRUNCATION = 1e-4


# ------------------------------------------------------------------------ exact quantities
def mdp_summary(mdp: FiniteMDP, name: str) -> dict:
    """Name, sizes, discount, horizon and storage of ``mdp``."""
    return {"name": name, "S": mdp.n_states, "A": mdp.n_actions, "gamma": mdp.gamma,
            "horizon": mdp.horizon, "sparse": mdp.is_sparse}


def softmax_at(pi: np.ndarray) -> tuple:
    """The tabular softmax (per-step for ``pi (H, S, A)``) and ``theta = log pi`` (zeros
    clipped to the smallest normal float), whose probabilities are ``pi``."""
    S, A = pi.shape[-2:]
    policy = TabularSoftmax(S, A, horizon=pi.shape[0] if pi.ndim == 3 else None)
    return policy, np.log(np.maximum(pi, np.finfo(float).tiny)).ravel()


def softmax_gradient(mdp: FiniteMDP, ev) -> np.ndarray:
    """:math:`\\nabla_\\theta J` of the tabular softmax at :math:`\\theta = \\log\\pi`, shape
    ``(S*A,)`` or ``(H*S*A,)`` (the limit :math:`\\tilde d(s)\\pi(a|s)A(s,a)` where
    :math:`\\pi(a|s) = 0`; "Lecture 6: The Policy Gradient", the softmax policy gradient theorem)."""
    policy, theta = softmax_at(ev.pi)
    return policy_gradient(mdp, policy, theta, evaluation=ev)


def exact_quantities(mdp: FiniteMDP, policy_of) -> dict:
    """Evaluation of ``policy_of(optimum)`` (or of the array ``policy_of``), ``J*`` and
    the norm of the softmax gradient."""
    opt = optimum(mdp)
    pi = policy_of(opt) if callable(policy_of) else policy_of
    ev = evaluate(mdp, pi)
    return {"evaluation": ev, "optimum": opt, "J_star": opt.J,
            "gradient_norm": float(np.linalg.norm(softmax_gradient(mdp, ev)))}


def _exact_row(spec: str, mdp: FiniteMDP) -> dict:
    uniform = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
    q = exact_quantities(mdp, uniform)
    ev = q["evaluation"]
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
    npg = natural_gradient(mdp, policy, policy.initial())
    V0 = ev.V[0] if mdp.horizon is not None else ev.V
    return {"mdp": mdp_summary(mdp, spec), "J_uniform": ev.J, "J_star": q["J_star"],
            "gradient_norm": q["gradient_norm"], "natural_gradient_norm": float(np.linalg.norm(npg)),
            "residual": ev.residual, "solver": ev.solver, "V": V0, "V_star": q["optimum"].V}


def _grid_figure(out: Path) -> tuple:
    """V* and pi* of Sutton & Barto's gridworld (with the plot extra)."""
    if not has_extra("matplotlib"):
        return ()
    mdp = mdps.sutton_barto_grid()
    opt = optimum(mdp)
    plots.save(plots.grid_values(opt.V, mdps.grid_cells(SUTTON_BARTO_LAYOUT), pi=plots.greedy_ties(opt.Q),
                                 title="Sutton & Barto Example 3.5: V* and every optimal action (gamma = 0.9)"),
               out / "gridworld_values.png")
    return ({"file": "gridworld_values.png", "caption": "V* and the optimal actions on Sutton & Barto's gridworld"},)


def exact_section(setting: Setting, out: Path, show: bool) -> SectionResult:
    """J, J*, V, gradient norms and residual of the uniform policy on the chain and garnet."""
    rows = [_exact_row(spec, zoo_mdp(spec)) for spec in (setting.chain, setting.garnet)]
    return SectionResult("Exact quantities", {"rows": rows}, _grid_figure(out))


# ------------------------------------------------------------------------------ estimators
def estimator_rows(mdp: FiniteMDP, ns, seeds: int, show: bool, rng: np.random.Generator, pi=None,
                   log: Callable | None = None) -> dict:
    """Each estimator at the policy ``pi`` (default uniform, the softmax at ``theta = log pi``):
    exact bias and covariance (moments DP) against ``seeds`` independent means of ``n``
    sampled estimates for each ``n`` in ``ns``, all from one batch of rollouts.

    The exact root-mean-square error of a mean of ``n`` is
    :math:`\\sqrt{\\mathrm{tr}\\,\\mathrm{Cov}/n + \\|\\mathrm{bias}\\|^2}`; the sampled one is
    measured over the ``seeds`` means.  ``log(line)``, when given, is called before each
    estimator with a progress line (for a stderr that is not a terminal).
    """
    pi = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions) if pi is None else np.asarray(pi, dtype=float)
    policy, theta = softmax_at(pi)
    g = policy_gradient(mdp, policy, theta)
    steps = episode_truncation(mdp, pi, TRUNCATION) if pi.ndim == 2 else None
    sampled = mdp if steps is None else mdp.with_(horizon=steps)       # the same truncation, shorter
    traj = rollout(sampled, policy.probs(theta), max(ns) * seeds, rng, tol=TRUNCATION)
    rows, begin = [], time.perf_counter()
    for i, (label, name, options) in enumerate(progress(ESTIMATORS, desc="estimators", enabled=show)):
        if log is not None:
            elapsed = time.perf_counter() - begin
            log(f"estimators: {i + 1}/{len(ESTIMATORS)} {label} (exact moments; {elapsed:.0f} s so far)")
        mean, cov = estimator_moments(sampled, policy, theta, name, tol=TRUNCATION, **options)
        per = estimate(traj, policy, theta, name, mdp=sampled, per_trajectory=True, **options)
        rows.append(_estimator_row(label, mean, cov, per, g, ns, seeds))
    return {"gradient_norm": float(np.linalg.norm(g)), "n": list(ns), "seeds": seeds, "rows": rows,
            "truncation_steps": steps if steps is not None or mdp.horizon is not None or mdp.gamma >= 1
            else truncation_horizon(mdp.gamma, reward_bound(mdp), TRUNCATION)}


def episode_truncation(mdp: FiniteMDP, pi: np.ndarray, tol: float = TRUNCATION) -> int | None:
    """The first step ``T`` after which the discounted return an episode of ``pi`` can still
    earn is at most ``tol``, counting only the probability that it has not yet ended; None
    when that is no shorter than :func:`tabular_pg.sampled.rollout.truncation_horizon`'s
    :math:`\\gamma^T r_{\\max}/(1-\\gamma) \\le` tol (no terminal states, a finite horizon, gamma = 1).

    With :math:`m_t` the probability of not being in a terminal state at step ``t``
    (non-increasing, as terminal states absorb), the return neglected after ``T`` steps is at
    most :math:`r_{\\max}\\sum_{t\\ge T}\\gamma^t m_t \\le r_{\\max}\\gamma^T m_T/(1-\\gamma)`:
    for FrozenLake (gamma = 0.99) at the uniform policy 70-odd steps instead of 1375.
    """
    terminal = mdp.terminal_states()
    if mdp.horizon is not None or mdp.gamma >= 1 or terminal.size == 0:
        return None
    rmax = reward_bound(mdp)
    longest = truncation_horizon(mdp.gamma, rmax, tol)
    P_pi_T = policy_transitions(mdp, pi).T
    alive = np.array(mdp.mu, dtype=float)
    alive[terminal] = 0.0
    for t in range(longest):
        if rmax * mdp.gamma ** t * alive.sum() / (1 - mdp.gamma) <= tol:
            return max(t, 1)
        alive = P_pi_T @ alive
        alive[terminal] = 0.0
    return None


def _estimator_row(label: str, mean, cov, per, g, ns, seeds: int) -> dict:
    bias, trace = float(np.linalg.norm(mean - g)), float(np.trace(cov))
    row: dict[str, Any] = {"estimator": label, "bias": bias, "trace_cov": trace, "rmse_exact": [], "rmse_sampled": [],
           "cosine_median": []}
    for n in ns:
        means = per[:n * seeds].reshape(seeds, n, -1).mean(axis=1)
        row["rmse_exact"].append(float(np.sqrt(trace / n + bias ** 2)))
        row["rmse_sampled"].append(float(np.sqrt(np.mean(np.sum((means - g) ** 2, axis=1)))))
        norms = np.linalg.norm(means, axis=1) * np.linalg.norm(g)
        row["cosine_median"].append(float(np.median(np.where(norms > 0, means @ g / np.maximum(norms, 1e-300), 0))))
    return row


def _variance_growth(setting: Setting, base: FiniteMDP) -> dict:
    """tr Cov of one estimate against H on the garnet's dynamics with gamma = 1, horizon H."""
    policy = TabularSoftmax(base.n_states, base.n_actions)
    growth = {}
    for label, name, options in ESTIMATORS[:3] + ESTIMATORS[5:6]:
        growth[label] = [float(np.trace(estimator_moments(FiniteMDP(base.P, base.R, base.mu, gamma=1.0, horizon=H),
                                                          policy, policy.initial(), name, **options)[1]))
                         for H in setting.horizons]
    return growth


def _estimator_figures(setting: Setting, out: Path, result: dict, growth: dict) -> tuple:
    rows = result["rows"]
    n = np.asarray(setting.n_values, dtype=float)
    plots.save(plots.estimator_errors(n, {r["estimator"]: r["rmse_sampled"] for r in rows},
                                      {r["estimator"]: r["trace_cov"] / n for r in rows},
                                      exact_errors={r["estimator"]: r["rmse_exact"] for r in rows},
                                      title=f"{setting.garnet}, uniform policy: sampled vs exact"),
               out / "estimator_errors.png")
    plots.save(plots.variance_vs_horizon(setting.horizons, growth,
                                         title="tr Cov of one estimate vs H (garnet dynamics, gamma = 1)"),
               out / "variance_vs_horizon.png")
    return ({"file": "estimator_errors.png", "caption": "estimator error vs n"},
            {"file": "variance_vs_horizon.png", "caption": "variance vs horizon"})


def estimators_section(setting: Setting, out: Path, show: bool) -> SectionResult:
    """Estimators vs exact on the chain and the garnet; error vs n; variance vs H."""
    data, truncated = {}, {}
    for spec in (setting.chain, setting.garnet):
        mdp = zoo_mdp(spec)
        data[spec] = estimator_rows(mdp, setting.n_values, setting.seeds, show, np.random.default_rng(SEED))
        truncated[spec] = mdp.horizon is None
    chain = zoo_mdp(setting.chain)
    growth = _variance_growth(setting, mdp)
    slopes = {k: plots.slope(setting.horizons, v) for k, v in growth.items()}
    data["variance_vs_H"] = {"H": list(setting.horizons), "trace_cov": growth, "slopes": slopes}
    figures = _estimator_figures(setting, out, data[setting.garnet], growth) if has_extra("matplotlib") else ()
    facts = {"truncated": truncated, "chain_H": chain.horizon, "chain_A": chain.n_actions,
             "trajectories": max(setting.n_values) * setting.seeds}
    return SectionResult("Estimators vs exact", data, figures, facts)


# ------------------------------------------------------------------------------ algorithms
def _first_within(J: np.ndarray, J_star: float, fraction: float = 0.9):
    """First iteration that closes ``fraction`` of the initial gap to ``J*`` (None if never)."""
    level = J[0] + fraction * (J_star - J[0])
    hit = np.flatnonzero(J >= level)
    return int(hit[0]) if hit.size else None


def _head_to_head(spec: str, mdp: FiniteMDP, setting: Setting, show: bool, sampled: bool) -> tuple:
    """Rows of the table, curves of exact J, and the algorithms whose defaults do not apply."""
    J_star = optimum(mdp).J
    rows, curves, not_run = [], {}, {}
    for name in progress(list(ALGORITHMS), desc=f"algorithms on {spec}", enabled=show):
        try:
            exact = train_once(mdp, name, setting.iterations)
        except ValueError as exc:                   # e.g. CPI's alpha='bound' needs gamma < 1
            not_run[name] = str(exc)
            rows.append([name, "-", "-", "-"] + (["-", "-"] if sampled else []))
            continue
        row = [name, exact.J[-1], J_star - exact.J[-1], str(_first_within(exact.J, J_star))]
        curves[f"{name} exact"] = exact.J
        if sampled and name in SAMPLED_IN_TOUR:
            runs = [train_once(mdp, name, setting.iterations, setting.sampled_n, seed)
                    for seed in range(setting.algo_seeds)]
            finals = np.array([h.J[-1] for h in runs])
            row += [f"{num(finals.mean(), 4)} [{num(finals.min(), 4)}, {num(finals.max(), 4)}]",
                    int(np.mean([h.trajectories[-1] for h in runs]))]
            curves[f"{name} sampled n={setting.sampled_n}"] = np.array([h.J for h in runs])
        elif sampled:
            row += ["(exact only)", "-"]
        rows.append(row)
    return J_star, rows, curves, not_run


def _curve_figure(out: Path, spec: str, curves: dict, J_star: float) -> dict:
    name = "learning_curves_" + spec.split(":")[0] + ".png"
    plots.save(plots.learning_curves(curves, J_star=J_star, title=f"exact J of every iterate: {spec}"), out / name)
    return {"file": name, "caption": f"learning curves on {spec}"}


def polytope_section(setting: Setting, out: Path, show: bool, paths: dict | None = None) -> SectionResult:
    """The value polytope of Dadashi et al.'s two-state MDP, with algorithm paths if given
    (``paths``: label -> policies ``(T+1, 2, A)``)."""
    plots.save(plots.value_polytope(dadashi_mdp(), paths=paths, title="value polytope (Dadashi et al. 2019, Fig. 2d)"),
               out / "value_polytope.png")
    figure = {"file": "value_polytope.png", "caption": "value polytope with policy paths"}
    return SectionResult("Value polytope", {"paths": sorted(paths or {})}, (figure,), {"labels": list(paths or {})})


def _polytope_paths(setting: Setting, out: Path, show: bool) -> SectionResult:
    theta0 = np.array([0.0, 3.0, 0.0, 3.0])                  # near the worst corner of the polytope
    paths = {name: train_once(dadashi_mdp(), name, setting.iterations, theta0=theta0).pi
             for name in ("pg", "npg", "cpi", "ppo")}
    return polytope_section(setting, out, show, paths=paths)


def algorithms_section(setting: Setting, out: Path, show: bool) -> SectionResult:
    """PG, NPG, CPI, PPO and CEM head to head, exact and sampled oracles; polytope paths."""
    data, figures, not_run = {}, [], {}
    plot = has_extra("matplotlib")
    for spec, sampled in ((setting.garnet, True), (setting.chain, False)):
        J_star, rows, curves, not_run[spec] = _head_to_head(spec, zoo_mdp(spec), setting, show, sampled)
        data[spec] = {"J_star": J_star, "rows": rows, "curves": curves}
        if plot:
            figures.append(_curve_figure(out, spec, curves, J_star))
    facts: dict[str, Any] = {"sampled": {setting.garnet: True, setting.chain: False}, "not_run": not_run,
             "algorithms": [repr(make_algorithm(name)) for name in ALGORITHMS],
             "oracle": repr(make_oracle(zoo_mdp(setting.garnet), setting.sampled_n)),
             "polytope": _polytope_paths(setting, out, show) if plot else None}
    if plot:
        figures += facts["polytope"].figures
    return SectionResult("Algorithms head to head", data, tuple(figures), facts)


# ---------------------------------------------------------------------------------- proofs
def _proofs():
    import proofs  # sympy: loaded only when the proofs are asked for
    return proofs


def run_proofs(errata: bool = False, claims=None) -> list:
    """Verdicts of every claim (or of the ``claims`` ids); only the non-holding with ``errata``.

    ``errata`` without ``claims`` checks only the claims registered as not holding (an
    erratum or a wrong justification), not all of them.
    """
    proofs = _proofs()
    if not claims and errata:
        claims = [c.id for c in proofs.CLAIMS if c.expected != "holds"]
    if not claims:
        return proofs.check_all()
    known = [c.id for c in proofs.CLAIMS]
    unknown = [c for c in claims if c not in known]
    if unknown:
        raise ValueError(f"--claim {unknown[0]!r} is not a claim id; known ids start with "
                         f"{sorted({k.split('.')[0] for k in known})} (e.g. {known[0]!r})")
    return [v for v in (proofs.check(c) for c in claims) if not (errata and v.holds)]


def verdict_counts(verdicts) -> dict:
    """Number of claims, of each verdict kind, and the ids of verdicts not as registered."""
    kinds = [v.kind for v in verdicts]
    return {"claims": len(verdicts), **{k: kinds.count(k) for k in sorted(set(kinds))},
            "unexpected": [v.claim_id for v in verdicts if not v.as_expected]}


def proof_verdicts(setting: Setting) -> list:
    """The verdicts the tour shows: every claim, or the first ``setting.proof_claims``."""
    claims = None if setting.proof_claims is None else [c.id for c in _proofs().CLAIMS[:setting.proof_claims]]
    return run_proofs(claims=claims)


def proofs_section(setting: Setting, out: Path, show: bool, prefetched: list | None = None) -> SectionResult:
    """Counts of the verdicts and the errata of the lectures, with their corrections."""
    verdicts = proof_verdicts(setting) if prefetched is None else prefetched
    facts = {"errata": [v for v in verdicts if not v.holds], "all_claims": len(_proofs().CLAIMS),
             "subset": setting.proof_claims is not None}
    return SectionResult("Proofs", {"summary": verdict_counts(verdicts)}, (), facts)


#: The tour, in order.
def beyond_section(setting: Setting, out: Path, show: bool) -> SectionResult:
    """Beyond the lectures, on the garnet: soft optimum, Hessian, off-policy variance, guarantees (cli/beyond.py)."""
    return SectionResult("Beyond the lectures", beyond.stories(zoo_mdp(setting.garnet)))


SECTIONS = (Section("exact", exact_section),
            Section("estimators", estimators_section),
            Section("algorithms", algorithms_section),          # draws the polytope with paths
            Section("beyond", beyond_section),
            Section("proofs", proofs_section, prefetch=proof_verdicts))
