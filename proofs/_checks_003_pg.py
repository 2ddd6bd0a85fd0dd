"""Checks of "Policy Gradient (continued)", first part: trajectory PG, its variance, Q/advantage forms, baselines.

Finite horizon, gamma = 1: ``V_H = 0``, ``Q_h(s,a) = r(s,a) + sum_s' P(s'|s,a) V_{h+1}(s')``,
``V_h(s) = sum_a pi(a|s) Q_h(s,a)``, ``d_0 = mu``, ``d_{h+1}(s') = sum_{s,a} d_h(s) pi(a|s) P(s'|s,a)``.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ._core import Finding, holds_if, identity
from ._symbolic import (
    expectation,
    finite_mdp,
    grad,
    objective,
    rand_policy_point,
    score,
    total_return,
    trajectories,
    trajectory_score,
)


def backward(m, pi):
    """``(Q, V, d)``: lists over h of ``(S, A)`` / ``(S,)`` tables (lists of expressions)."""
    S, A, H = m.S, m.A, m.H
    V = [[sp.Integer(0)] * S for _ in range(H + 1)]
    Q = [None] * H
    for h in reversed(range(H)):
        Q[h] = [[m.r[s][a] + sum(m.P[s][a][t] * V[h + 1][t] for t in range(S)) for a in range(A)] for s in range(S)]
        V[h] = [sum(pi[s][a] * Q[h][s][a] for a in range(A)) for s in range(S)]
    d = [list(m.mu)]
    for h in range(H - 1):
        d.append([sum(d[h][s] * pi[s][a] * m.P[s][a][t] for s in range(S) for a in range(A)) for t in range(S)])
    return Q, V, d


SIZE = (2, 2, 2)
SIZES = ((2, 2, 2), (1, 3, 2), (1, 2, 3))


@cache
def _setup(size=SIZE):
    S, A, H = size
    m = finite_mdp(S=S, A=A, H=H, seed=7)
    trajs = trajectories(m)
    return m, trajs, grad(objective(m), m.policy.params), backward(m, m.policy.pi)


def _zeros(m):
    return sp.zeros(len(m.policy.params), 1)


def _sum_h_d(m, d, f):
    return sum(
        (d[h][s] * m.policy.pi[s][a] * f(h, s, a) for h in range(m.H) for s in range(m.S) for a in range(m.A)),
        _zeros(m),
    )


def rho(size=SIZE) -> Finding:
    """rho_theta sums to 1 and E_rho[R] equals mu^T V_0 from the backward recursion."""
    m, trajs, _, (Q, V, d) = _setup(size)
    r1 = identity(sum(t.prob for t in trajs), 1)
    r2 = identity(objective(m), sum(m.mu[s] * V[0][s] for s in range(m.S)))
    return holds_if(r1.zero and r2.zero, f"sum rho - 1: {r1.report()}; E_rho[R] - mu^T V_0: {r2.report()}")


def rho_typo(size=SIZE) -> Finding:
    """The first build of the slide: E_rho[R] = mu^T V_0 (dynamic programming); the garbled build is shown too."""
    m, trajs, _, (Q, V, d) = _setup(size)
    pi = m.policy.pi
    r = identity(objective(m), sum(m.mu[s] * V[0][s] for s in range(m.S)))
    garbled = sum(
        t.prob / pi[t.states[1]][t.actions[1]] * pi[t.states[0]][t.actions[1]] * total_return(m, t) for t in trajs
    )
    rg = identity(garbled, objective(m), symbolic=False)
    return holds_if(
        r.zero,
        "first build rho = mu(s_0) pi(a_0|s_0) P(s_1|s_0,a_0) pi(a_1|s_1): E_rho[R] - mu^T V_0: "
        + r.report()
        + "; the garbled build pi(a_1|s_0) would give E[R] - J: "
        + rg.report(),
    )


def pg_trajectory(size=SIZE) -> Finding:
    m, trajs, gJ, _ = _setup(size)
    r = identity(gJ, expectation(lambda t: trajectory_score(m, t) * total_return(m, t), trajs))
    return holds_if(r.zero, "grad J - E[(sum_h grad ln pi(a_h|s_h)) R(tau)]: " + r.report(), r.counterexample())


def g_unbiased(size=(1, 3, 3)) -> Finding:
    """g = sum_h grad ln pi(a_h|s_h) R(tau) has mean grad J (default one state, 3 actions, H = 3)."""
    S, A, H = size
    m = finite_mdp(S=S, A=A, H=H, seed=8)
    trajs = trajectories(m)
    r = identity(
        grad(objective(m), m.policy.params), expectation(lambda t: trajectory_score(m, t) * total_return(m, t), trajs)
    )
    return holds_if(r.zero, f"E[g] - grad J ({len(trajs)} trajectories): " + r.report(), r.counterexample())


def variance_h_cubed() -> Finding:
    """Reward 1 per step: E||g - grad J||^2 = H^3 sum_a pi(a) ||e_a - pi||^2 exactly (H^3/2 for 2 uniform actions)."""
    rows, ok = [], True
    for H in range(1, 7):
        m = finite_mdp(S=1, A=2, H=H, rewards="one")
        trajs = trajectories(m)
        at = {z: 1 for z in m.policy.params} if H > 3 else {}
        gJ = grad(objective(m), m.policy.params).subs(at)
        var = sum(
            t.prob.subs(at) * sum(x**2 for x in (trajectory_score(m, t) * total_return(m, t)).subs(at) - gJ)
            for t in trajs
        )
        pi = m.policy.pi[0]
        c = sum(pi[a] * sum(x**2 for x in score(m.policy, 0, a)) for a in range(2)).subs(at)
        r = identity(var, H**3 * c)
        ok &= r.zero and identity(gJ, sp.zeros(2, 1)).zero
        rows.append(f"H={H}: {sp.factor(sp.cancel(var)) if not at else var}")
    return holds_if(
        ok,
        "exact E||g - grad J||^2 (grad J = 0): "
        + "; ".join(rows)
        + " = H^3 sum_a pi_a ||e_a - pi||^2 (symbolic policy for H<=3, uniform after): order H^3 attained",
    )


def q_recursion(size=SIZE) -> Finding:
    """Q_0(s,a) = E[sum_t r | s_0 = s, a_0 = a] equals r(s,a) + E_{s'} V_1(s')."""
    m, trajs, _, (Q, V, d) = _setup(size)
    ok, rep = True, ""
    for s in range(m.S):
        for a in range(m.A):
            sub = [t for t in trajs if t.states[0] == s and t.actions[0] == a]
            cond = sum(t.prob * total_return(m, t) for t in sub) / (m.mu[s] * m.policy.pi[s][a])
            r = identity(cond, Q[0][s][a])
            ok &= r.zero
            rep = r.report()
    return holds_if(ok, "all (s, a): conditional expectation - recursion: " + rep)


def pg_q(size=SIZE) -> Finding:
    m, trajs, gJ, (Q, V, d) = _setup(size)
    r = identity(gJ, _sum_h_d(m, d, lambda h, s, a: score(m.policy, s, a) * Q[h][s][a]))
    return holds_if(r.zero, "grad J - sum_h E_{d_h}[grad ln pi Q_h]: " + r.report(), r.counterexample())


def baseline(size=SIZE) -> Finding:
    m, trajs, gJ, (Q, V, d) = _setup(size)
    b = [[sp.Symbol(f"b{h}{s}", real=True) for s in range(m.S)] for h in range(m.H)]
    r = identity(gJ, _sum_h_d(m, d, lambda h, s, a: score(m.policy, s, a) * (Q[h][s][a] - b[h][s])))
    return holds_if(
        r.zero, "grad J - sum_h E_{d_h}[grad ln pi (Q_h - b_h(s))], symbolic b: " + r.report(), r.counterexample()
    )


def advantage(size=SIZE) -> Finding:
    m, trajs, gJ, (Q, V, d) = _setup(size)
    r = identity(gJ, _sum_h_d(m, d, lambda h, s, a: score(m.policy, s, a) * (Q[h][s][a] - V[h][s])))
    return holds_if(r.zero, "grad J - sum_h E_{d_h}[grad ln pi A_h]: " + r.report(), r.counterexample())


def v_not_optimal_baseline(A: int = 2) -> Finding:
    """Per state, the variance-minimising constant is E[||score||^2 Q]/E[||score||^2], not V = E[Q] (A actions).

    Symbolic in the policy for 2 actions; for more, at a random rational policy (symbolic Q).
    """
    m = finite_mdp(S=1, A=A, H=1)
    at = {} if A <= 2 else rand_policy_point(m.policy, A)  # beyond 2 actions: a random rational policy
    pi, Q = [p.subs(at) for p in m.policy.pi[0]], m.r[0]
    w = [sum(x**2 for x in score(m.policy, 0, a)).subs(at) for a in range(A)]
    b = sp.Symbol("b", real=True)
    second = sum(pi[a] * w[a] * (Q[a] - b) ** 2 for a in range(A))  # E||score (Q - b)||^2
    bstar = sum(pi[a] * w[a] * Q[a] for a in range(A)) / sum(pi[a] * w[a] for a in range(A))  # d/db second = 0
    V = sum(pi[a] * Q[a] for a in range(A))
    r_stat = identity(sp.diff(second, b).subs(b, bstar), 0)
    r_gap = identity(second.subs(b, V) - second.subs(b, bstar), sum(pi[a] * w[a] for a in range(A)) * (V - bstar) ** 2)
    r_diff = identity(bstar, V, symbolic=False)
    return holds_if(
        r_stat.zero and r_gap.zero and not r_diff.zero,
        "b* = E[||score||^2 Q]/E[||score||^2] is stationary: "
        + r_stat.report()
        + f"; Var(V) - Var(b*) = E||score||^2 (V - b*)^2 >= 0: {r_gap.report()}; "
        f"b* - V: {r_diff.report()} (non-zero: V is not optimal)",
    )
