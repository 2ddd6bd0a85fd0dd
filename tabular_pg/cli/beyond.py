"""The tour's "beyond the lectures" stories: each one exact, on one small MDP.

Entropy regularisation (the soft optimum approaches J* as the temperature falls, within the
bound tau log A / (1 - gamma)); the Hessian of J (J is not concave in the softmax
parameters); importance sampling (the exact variance of off-policy REINFORCE grows
geometrically with the horizon); published convergence guarantees checked on every iterate;
and the iterations each exact algorithm needs to reach the optimum.
"""
from __future__ import annotations

import warnings

import numpy as np

from tabular_pg.algorithms import (
    CubicNewton,
    NaturalPolicyGradient,
    PolicyGradient,
    PolicyMirrorDescent,
    RewardWeightedRegression,
    run,
)
from tabular_pg.algorithms.guarantees import GUARANTEES, check_guarantee
from tabular_pg.algorithms.oracles import ExactOracle
from tabular_pg.cli.format import markdown_table, num, table
from tabular_pg.cli.specs import SEED
from tabular_pg.exact import evaluate, optimum
from tabular_pg.exact.hessian import hessian
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import TabularSoftmax
from tabular_pg.sampled.registry import estimator_moments

__all__ = ["entropy_story", "hessian_story", "off_policy_story", "guarantees_story", "algorithms_story", "stories",
           "render"]


def entropy_story(mdp: FiniteMDP, taus=(1.0, 0.3, 0.1, 0.03, 0.01)) -> dict:
    """J of the soft optimum :math:`\\pi^*_\\tau` beside J*, and the bound
    :math:`J^* - J(\\pi^*_\\tau) \\le \\tau\\log A/(1-\\gamma)` (the discounted entropy is at most that)."""
    J_star = optimum(mdp).J
    rows = []
    for tau in taus:
        soft = optimum(mdp, entropy=tau)
        J = evaluate(mdp, soft.pi).J
        rows.append({"tau": tau, "J_tau_star": soft.J, "J": J, "gap": J_star - J,
                     "bound": tau * np.log(mdp.n_actions) / (1 - mdp.gamma)})
    return {"J_star": J_star, "rows": rows}


def hessian_story(mdp: FiniteMDP) -> dict:
    """The spectrum of :math:`\\nabla^2 J` at the uniform softmax policy: positive eigenvalues mean J is not concave."""
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
    lam = np.linalg.eigvalsh(hessian(mdp, policy, policy.initial()))
    tol = lam.size * np.finfo(float).eps * np.abs(lam).max()
    return {"d": int(lam.size), "min": float(lam[0]), "max": float(lam[-1]), "positive": int((lam > tol).sum()),
            "negative": int((lam < -tol).sum())}


def off_policy_story(mdp: FiniteMDP, horizons=(2, 4, 8)) -> dict:
    """Exact tr Cov of REINFORCE (reward-to-go) on-policy and from a uniform behaviour policy with
    per-decision and whole-trajectory importance weights, by horizon."""
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = np.random.default_rng(SEED).normal(size=policy.n_params)
    beta = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
    kinds: dict[str, dict] = {"on-policy": {}, "per-decision": {"behaviour": beta, "importance": "per_decision"},
             "whole trajectory": {"behaviour": beta, "importance": "trajectory"}}
    rows = []
    for H in horizons:
        finite = FiniteMDP(mdp.P, mdp.R, mdp.mu, gamma=mdp.gamma, horizon=H)
        traces = {k: float(np.trace(estimator_moments(finite, policy, theta, reward_to_go=True, **o)[1]))
                  for k, o in kinds.items()}
        rows.append({"H": H, **traces})
    return {"rows": rows}


def guarantees_story(mdp: FiniteMDP, iterations: int = 30) -> dict:
    """Every guarantee of :data:`~tabular_pg.algorithms.guarantees.GUARANTEES` on ``mdp``: iterates
    checked, violations (0, or the check raises) and tightness (largest measured/bound)."""
    rows = []
    for name, entry in GUARANTEES.items():
        check = check_guarantee(name, mdp, iterations=iterations)
        rows.append({"name": name, "reference": entry.reference, "iterates": int((~np.isnan(check.bound)).sum()),
                     "violations": int(check.violations.size), "tightness": check.tightness, "sense": check.sense})
    return {"rows": rows}


def algorithms_story(mdp: FiniteMDP, iterations: int = 200, gap: float = 1e-6) -> dict:
    """Iterations each exact algorithm needs, from the uniform policy, to reach ``J >= J* - gap |J*|``."""
    J_star = optimum(mdp).J
    target = J_star - gap * max(1.0, abs(J_star))
    shift = max(0.0, -float(mdp.R.min()))
    algorithms = {"PG (normalised step)": PolicyGradient(), "NPG (step 1)": NaturalPolicyGradient(step=1.0),
                  "PMD (KL, steps x 1/gamma)": PolicyMirrorDescent(step=1.0, step_growth=1 / mdp.gamma),
                  "CubicNewton": CubicNewton(),
                  "RWR (EM)": RewardWeightedRegression(shift=shift)}
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)     # runs that reach the target stop there
        for name, algorithm in algorithms.items():
            hist = run(algorithm, mdp, policy, policy.initial(), ExactOracle(mdp), iterations, target=target,
                       rng=np.random.default_rng(SEED))
            reached = bool(hist.J[-1] >= target)
            rows.append({"algorithm": name, "iterations": hist.iterations if reached else None,
                         "final_gap": float(J_star - hist.J[-1])})
    return {"J_star": J_star, "gap": gap, "budget": iterations, "rows": rows}


def stories(mdp: FiniteMDP) -> dict:
    """Every story above on ``mdp`` (the tour's garnet), keyed by name."""
    return {"entropy": entropy_story(mdp), "hessian": hessian_story(mdp), "off_policy": off_policy_story(mdp),
            "guarantees": guarantees_story(mdp), "algorithms": algorithms_story(mdp)}


def render(data: dict) -> tuple:
    """``(printed lines, Markdown)`` of :func:`stories`' ``data``."""
    ent, hes, off, gua, alg = (data[k] for k in ("entropy", "hessian", "off_policy", "guarantees", "algorithms"))
    parts = [
        ("Entropy regularisation: J of the soft optimum pi*_tau (soft policy iteration) approaches "
         f"J* = {num(ent['J_star'])} as tau falls, within tau log A / (1 - gamma) (Cen et al. 2021)",
         ["tau", "J*_tau (soft)", "J(pi*_tau)", "J* - J(pi*_tau)", "bound"],
         [[r["tau"], r["J_tau_star"], r["J"], r["gap"], r["bound"]] for r in ent["rows"]]),
        ("Importance sampling: exact tr Cov of REINFORCE (reward-to-go) for a random softmax, on-policy and "
         "from the uniform behaviour policy, as the horizon grows",
         ["H", "on-policy", "per-decision", "whole trajectory"],
         [[r["H"], r["on-policy"], r["per-decision"], r["whole trajectory"]] for r in off["rows"]]),
        ("Convergence guarantees checked on every iterate of an exact run (rewards mapped to [0, 1]); "
         "tightness = largest measured/bound (for CPI's lower bound: largest bound - measured)",
         ["guarantee", "reference", "iterates", "violations", "tightness"],
         [[r["name"], r["reference"], r["iterates"], r["violations"], r["tightness"]] for r in gua["rows"]]),
        (f"Exact algorithms from the uniform policy: iterations to J >= J* - {alg['gap']:g} |J*| "
         f"(budget {alg['budget']})",
         ["algorithm", "iterations", "J* - J_T"],
         [[r["algorithm"], "not reached" if r["iterations"] is None else r["iterations"], r["final_gap"]]
          for r in alg["rows"]]),
    ]
    hessian_line = (f"Hessian of J at the uniform policy (d = {hes['d']}): eigenvalues in [{num(hes['min'])}, "
                    f"{num(hes['max'])}], {hes['positive']} positive and {hes['negative']} negative: J is not "
                    "concave in the softmax parameters, although every stationary point is a global optimum "
                    "(Agarwal et al. 2021)")
    lines, md = [hessian_line], [hessian_line, ""]
    for title, headers, rows in parts:
        lines += [title, table(headers, rows)]
        md += [title, "", markdown_table(headers, rows), ""]
    return lines, "\n".join(md)
