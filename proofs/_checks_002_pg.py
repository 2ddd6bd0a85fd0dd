"""Checks of §1 (Q-based policy gradient, baselines) and the CPI update of "Lecture 15: Policy Optimization with Trust
Regions".

Infinite-horizon MDP: 2 states, 2 actions, random rational dynamics, symbolic rewards,
symbolic ``gamma`` in (0, 1), symbolic tabular softmax (``z = exp(theta)``).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ._core import Finding, holds_if, identity
from ._discounted import discounted_mdp, evaluate, expect_sa, gamma
from ._symbolic import grad, score

DOM = {gamma: (sp.Rational(1, 10), sp.Rational(9, 10))}


@cache
def _setup():
    m = discounted_mdp(seed=5)
    ev = evaluate(m, m.policy.pi)
    return m, ev, grad(ev.J, m.policy.params)


def _score(m, s, a):
    return score(m.policy, s, a)


def pg_with_q() -> Finding:
    """grad J = 1/(1-gamma) E_{s,a ~ d}[grad log pi(a|s) Q(s,a)], d normalised."""
    m, ev, gJ = _setup()
    rhs = expect_sa(ev, m.policy.pi, lambda s, a: _score(m, s, a) * ev.Q[s, a]) / (1 - gamma)
    r = identity(gJ, rhs, domains=DOM)
    norm = identity(sum(ev.d), 1, domains=DOM)
    return holds_if(
        r.zero and norm.zero,
        f"grad J - rhs: {r.report()}; sum_s d(s) - 1: {norm.report()} "
        "(d is the normalised visitation; with the unnormalised d~ the 1/(1-gamma) must go)",
        r.counterexample(),
    )


def visitation() -> Finding:
    """d~ = sum_t gamma^t P_t (fixed point d~ = mu + gamma P_pi^T d~), and d = (1-gamma) d~ sums to 1."""
    m, ev, _ = _setup()
    d_unnorm = ev.d / (1 - gamma)
    r_fix = identity(d_unnorm, sp.Matrix(m.mu) + gamma * ev.P_pi.T * d_unnorm, domains=DOM)
    at = {gamma: sp.Rational(1, 3), **{z: 1 for z in m.policy.params}}
    PT = ev.P_pi.T.subs(at)
    truncated = sum((sp.Rational(1, 3) ** t * PT**t * sp.Matrix(m.mu) for t in range(40)), sp.zeros(m.S, 1))
    tail = max(abs(sp.N(x)) for x in (d_unnorm.subs(at) - truncated))
    r_sum = identity(sum(ev.d), 1, domains=DOM)
    return holds_if(
        r_fix.zero and r_sum.zero and tail < 1e-15,
        f"fixed point: {r_fix.report()}; sum d - 1: {r_sum.report()}; |d~ - sum_(t<40) gamma^t P_t| "
        f"at gamma=1/3 = {sp.N(tail, 3)}",
    )


def advantage_form() -> Finding:
    """grad J = 1/(1-gamma) E_d[grad log pi (Q - b(s))] for any b(s), in particular A = Q - V."""
    m, ev, gJ = _setup()
    bs = sp.symbols("b0:2", real=True)
    rb = identity(
        gJ, expect_sa(ev, m.policy.pi, lambda s, a: _score(m, s, a) * (ev.Q[s, a] - bs[s])) / (1 - gamma), domains=DOM
    )
    ra = identity(gJ, expect_sa(ev, m.policy.pi, lambda s, a: _score(m, s, a) * ev.A[s, a]) / (1 - gamma), domains=DOM)
    return holds_if(rb.zero and ra.zero, f"baseline b(s): {rb.report()}; advantage: {ra.report()}")


def _cpi_setup():
    m = discounted_mdp(seed=11, rewards="random", g=sp.Rational(4, 5))
    pi = ((sp.Rational(1, 3), sp.Rational(2, 3)), (sp.Rational(3, 4), sp.Rational(1, 4)))
    ev = evaluate(m, pi)
    greedy = tuple(
        tuple(sp.Integer(int(a == max(range(m.A), key=lambda b: ev.Q[s, b]))) for a in range(m.A)) for s in range(m.S)
    )
    return m, pi, ev, greedy


alpha = sp.Symbol("alpha", positive=True)


def _mix(pi, greedy):
    return tuple(
        tuple((1 - alpha) * pi[s][a] + alpha * greedy[s][a] for a in range(len(pi[0]))) for s in range(len(pi))
    )


def cpi_mixture(n: int = 3) -> Finding:
    """(1-alpha) pi + alpha pi' is a distribution for alpha in [0, 1] (``n`` actions)."""
    m, pi, _, greedy = _cpi_setup()
    p = sp.symbols(f"p0:{n}", positive=True)
    q = sp.symbols(f"q0:{n}", positive=True)
    mixed = [(1 - alpha) * p[i] / sum(p) + alpha * q[i] / sum(q) for i in range(n)]
    r = identity(sum(mixed), 1, domains={alpha: (0, 1)})
    nonneg = all(
        ((1 - alpha) * x + alpha * y).subs(alpha, t) >= 0
        for row, grow in zip(pi, greedy)
        for x, y in zip(row, grow)
        for t in (0, sp.Rational(1, 2), 1)
    )
    return holds_if(
        r.zero and nonneg,
        f"sum of the mixture - 1 (generic {n}-point p, q): {r.report()}; each entry a "
        "convex combination of non-negatives (checked on the CPI example)",
    )


def cpi_performance_difference() -> Finding:
    """J(mix) - J(pi) = alpha/(1-gamma) E_{s~d^mix}[sum_a pi'(a|s) A^pi(s,a)]; slope at 0 >= 0 for greedy pi'."""
    m, pi, ev, greedy = _cpi_setup()
    mix = _mix(pi, greedy)
    ev_mix = evaluate(m, mix)
    g = m.gamma
    rhs = alpha / (1 - g) * sum(ev_mix.d[s] * sum(greedy[s][a] * ev.A[s, a] for a in range(m.A)) for s in range(m.S))
    r = identity(ev_mix.J - ev.J, rhs, domains={alpha: (0, 1)})
    slope = sp.cancel(sp.diff(ev_mix.J, alpha).subs(alpha, 0))
    slope_pdl = sum(ev.d[s] * sum(greedy[s][a] * ev.A[s, a] for a in range(m.A)) for s in range(m.S)) / (1 - g)
    return holds_if(
        r.zero and sp.cancel(slope - slope_pdl) == 0 and slope >= 0,
        f"performance difference of the mixture: {r.report()}; dJ/dalpha at 0 = {slope} "
        f"= 1/(1-gamma) E_d[sum_a pi' A] (>= 0 for greedy pi')",
    )
