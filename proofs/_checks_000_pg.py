"""Checks of §3.2 (eqs. 17-27, footnote 1) and §3.4 (eqs. 28-29) of "Lecture 6: The Policy Gradient".

Each check takes ``size = (S, A, H)`` (default 2 states, 2 actions, horizon 2: t = 0, 1, so
T = 1); the MDP has random rational dynamics, symbolic rewards ``r{s}{a}``, symbolic
discount ``gamma`` in (0, 1) and a symbolic softmax policy.  ``SIZES`` are the sizes the
lecture module runs them at.
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
    rewards,
    score,
    softmax_policy,
    total_return,
    trajectories,
    trajectory_score,
)

gamma = sp.Symbol("gamma", positive=True)
DOM = {gamma: (sp.Rational(1, 10), sp.Rational(9, 10))}


SIZE = (2, 2, 2)
SIZES = ((2, 2, 2), (1, 3, 2), (1, 2, 3))


@cache
def _setup(size=SIZE):
    S, A, H = size
    m = finite_mdp(S=S, A=A, H=H, seed=3, gamma=gamma)
    trajs = trajectories(m)
    return m, trajs, grad(objective(m), m.policy.params)


def _zeros(m):
    return sp.zeros(len(m.policy.params), 1)


def reward_to_go(m, t):
    """``sum_t grad log pi(a_t|s_t) sum_{t' >= t} gamma^t' r_t'`` (eq. 26 integrand)."""
    rw = rewards(m, t)
    out = _zeros(m)
    for h in range(m.H):
        out += score(m.policy, t.states[h], t.actions[h]) * sum(rw[h:])
    return out


def full_return(m, t):
    """``(sum_t grad log pi(a_t|s_t)) (sum_t' gamma^t' r_t')`` (eqs. 22 and 27 integrand)."""
    return trajectory_score(m, t) * total_return(m, t)


def eqs_17_19(size=SIZE) -> Finding:
    m, trajs, gJ = _setup(size)
    z = m.policy.params
    e17 = sum((grad(t.prob, z) * total_return(m, t) for t in trajs), _zeros(m))
    e19 = expectation(lambda t: grad(sp.log(t.prob), z) * total_return(m, t), trajs)
    r1, r2 = identity(gJ, e17, domains=DOM), identity(e17, e19, seed=1, domains=DOM)
    return holds_if(r1.zero and r2.zero, f"grad J=(17): {r1.report()} | (17)=(19): {r2.report()}")


def eq_20(size=SIZE) -> Finding:
    """(20) as printed multiplies by p(s_0) outside the log."""
    m, trajs, gJ = _setup(size)
    z = m.policy.params
    printed = expectation(
        lambda t: grad(sp.log(t.prob / m.mu[t.states[0]]), z) * m.mu[t.states[0]] * total_return(m, t), trajs
    )
    corrected = expectation(lambda t: grad(sp.log(t.prob), z) * total_return(m, t), trajs)
    r, rc = identity(printed, gJ, domains=DOM, symbolic=False), identity(corrected, gJ, domains=DOM)
    return Finding(
        "holds" if r.zero else "erratum",
        "printed (20) - grad J: " + r.report(),
        f"start distribution mu = {list(m.mu)}; " + (r.counterexample() or ""),
        "E[(grad log [p(s_0) prod_t p(s_{t+1}|s_t,a_t) pi(a_t|s_t)]) R(tau)]: "
        "p(s_0) belongs inside the log (then its gradient vanishes)",
        rc.zero,
    )


def eqs_21_22(size=SIZE) -> Finding:
    m, trajs, gJ = _setup(size)
    r = identity(gJ, expectation(lambda t: full_return(m, t), trajs), domains=DOM)
    return holds_if(r.zero, "grad J - (21)=(22): " + r.report(), r.counterexample())


def eq_23(size=SIZE) -> Finding:
    """Splitting sum_t' into t' < t and t' >= t, trajectory by trajectory."""
    m, trajs, _ = _setup(size)
    ok, rep = True, ""
    for t in trajs:
        rw = rewards(m, t)
        for h in range(m.H):
            r = identity(sum(rw), sum(rw[:h]) + sum(rw[h:]), domains=DOM)
            ok &= r.zero
            rep = r.report()
    return holds_if(ok, f"all {len(trajs)} trajectories, t=0..{m.H - 1}: " + rep)


def _past_and_score(m, t, h):
    return sum(rewards(m, t)[:h]), score(m.policy, t.states[h], t.actions[h])


def eqs_24_25(size=SIZE) -> Finding:
    """E[past * score_t] = E[past] E[score_t] (both 0) but past and score_t are dependent."""
    m, trajs, _ = _setup(size)
    h = 1
    E = lambda f: expectation(f, trajs)
    exy = E(lambda t: _past_and_score(m, t, h)[0] * _past_and_score(m, t, h)[1])
    ex_ey = E(lambda t: _past_and_score(m, t, h)[0]) * E(lambda t: _past_and_score(m, t, h)[1])
    r_value = identity(exy, ex_ey, domains=DOM)
    sq = lambda t: _past_and_score(m, t, h)[1].applyfunc(lambda v: v**2)
    r_indep = identity(
        E(lambda t: _past_and_score(m, t, h)[0] * sq(t)), E(lambda t: _past_and_score(m, t, h)[0]) * E(sq), domains=DOM
    )
    cond = [
        identity(sum((m.policy.pi[s][a] * score(m.policy, s, a) for a in range(m.A)), _zeros(m)), _zeros(m))
        for s in range(m.S)
    ]
    kind = "justification" if r_value.zero and not r_indep.zero else ("holds" if r_value.zero else "erratum")
    return Finding(
        kind,
        f"(23)=(24)+(25) in value: {r_value.report()}; independence test "
        f"E[X g(Y)] - E[X]E[g(Y)], g = componentwise square: {r_indep.report()}",
        "past reward X = r(s_0,a_0) and score Y = grad log pi(a_1|s_1) are dependent "
        "(s_1 depends on a_0): " + (r_indep.counterexample() or ""),
        "E[X Y] = E[X E[Y | s_0,a_0,s_1]] = 0 because sum_a pi(a|s) grad log pi(a|s) = 0 "
        "for every s; the expectation does not factorise, the cross term vanishes by the tower rule",
        all(r.zero for r in cond),
    )


def eq_26(size=SIZE) -> Finding:
    m, trajs, gJ = _setup(size)
    r = identity(gJ, expectation(lambda t: reward_to_go(m, t), trajs), domains=DOM)
    return holds_if(r.zero, "grad J - (26): " + r.report(), r.counterexample())


def eq_27(size=SIZE) -> Finding:
    """(26) = (27) as printed: an equality of expectations, true; (27)'s integrand is eq. (22)'s, not (26)'s."""
    m, trajs, gJ = _setup(size)
    e26 = expectation(lambda t: reward_to_go(m, t), trajs)
    r = identity(expectation(lambda t: full_return(m, t), trajs), e26, domains=DOM)
    t = trajs[-1]
    r_int = identity(full_return(m, t), reward_to_go(m, t), domains=DOM)
    return holds_if(
        r.zero,
        f"E[(27)] - E[(26)]: {r.report()}; the integrands differ (on states {t.states}, actions "
        f"{t.actions}: {r_int.report()}), so (27) is the full-return estimator of (22) with the same mean",
        r.counterexample(),
    )


def footnote_1(size=SIZE) -> Finding:
    """The removed term E[score_t sum_{t'<t} gamma^t' r_t'] is exactly zero for each t."""
    m, trajs, _ = _setup(size)
    rs = [
        identity(
            expectation(lambda t, h=h: _past_and_score(m, t, h)[0] * _past_and_score(m, t, h)[1], trajs),
            _zeros(m),
            domains=DOM,
        )
        for h in range(m.H)
    ]
    return holds_if(all(r.zero for r in rs), " | ".join(f"t={h}: {r.report()}" for h, r in enumerate(rs)))


def eqs_28_29(sa=(2, 2)) -> Finding:
    """BC: the data distribution is fixed, so the gradient passes inside (S states, A actions, 2 S A data points)."""
    S, A = sa
    pol = softmax_policy(S, A)
    data = [(s, a) for s in range(S) for a in range(A)] + [(s, (s + 1) % A) for s in range(S)] * A
    obj = sum(sp.log(pol.pi[s][a]) for s, a in data) / len(data)
    rhs = sum((score(pol, s, a) for s, a in data), sp.zeros(S * A, 1)) / len(data)
    r = identity(grad(obj, pol.params), rhs)
    return holds_if(r.zero, f"dataset {data}: " + r.report(), r.counterexample())


def weighted_bc(size=SIZE) -> Finding:
    """§3.4: grad of the reward-weighted BC objective on data from pi_theta0, at theta0, is grad J."""
    m, trajs, gJ = _setup(size)
    old = softmax_policy(m.S, m.A, name="y")
    data = trajectories(m, old)
    pol = m.policy
    bc = sum(t.prob * total_return(m, t) * sum(sp.log(pol.pi[s][a]) for s, a in zip(t.states, t.actions)) for t in data)
    at_old = dict(zip(pol.params, old.params))
    lhs = grad(bc, pol.params).subs(at_old)
    r = identity(lhs, gJ.subs(at_old), domains=DOM)
    return holds_if(
        r.zero,
        "grad_theta E_{tau~theta0}[R(tau) sum_t log pi_theta(a_t|s_t)] at theta=theta0 - grad J(theta0): " + r.report(),
        r.counterexample(),
    )


#: Per horizon H, rewards r = (r0, r1) and softmax weights z = (z0, 1) where reward to go has the larger variance.
VARIANCE_POINTS = {2: ((4, -5), 15), 3: ((-2, 6), 31), 4: ((-2, 6), 63)}


def variance_claim(H: int = 2) -> Finding:
    """'Removing [past rewards] decreases variance': not always (one state, 2 actions, H = 2, 3, 4)."""
    m = finite_mdp(S=1, A=2, H=H, seed=0, gamma=1)
    trajs = trajectories(m)
    sq = lambda v: (v.T * v)[0]
    delta = lambda t: full_return(m, t) - reward_to_go(m, t)  # sum_t score_t * (rewards before t)
    second_full = expectation(lambda t: sq(full_return(m, t)), trajs)
    second_rtg = expectation(lambda t: sq(reward_to_go(m, t)), trajs)
    decomposition = identity(
        second_full - second_rtg, expectation(lambda t: 2 * (reward_to_go(m, t).T * delta(t))[0] + sq(delta(t)), trajs)
    )
    means = identity(expectation(lambda t: full_return(m, t), trajs), expectation(lambda t: reward_to_go(m, t), trajs))
    z0, z1 = m.policy.params
    (r0, r1), w = VARIANCE_POINTS[H]
    point = {m.r[0][0]: r0, m.r[0][1]: r1, z0: w, z1: 1}
    pi = f"({w}/{w + 1}, 1/{w + 1})"
    gap = sp.cancel((second_full - second_rtg).xreplace(point))
    printed = identity(sp.Min(gap, 0), 0)  # the lecture: the gap is never negative
    return Finding(
        "holds" if printed.zero else "erratum",
        f"Var(full) - Var(reward-to-go) (equal means: {means.zero}) at r = ({r0}, {r1}), pi = {pi}: {gap}",
        f"one state, actions with rewards r = ({r0}, {r1}), softmax z = ({w}, 1) (pi = {pi}), H = {H}, "
        f"gamma = 1: Var(full return) - Var(reward to go) = {gap} < 0 (trace of the covariance)",
        "dropping past rewards keeps the estimator unbiased (footnote 1); the variance changes by "
        "Var(full) - Var(rtg) = E[2 g_rtg . D + ||D||^2], D = sum_t grad log pi(a_t|s_t) sum_{t'<t} "
        "gamma^t' r_t', which can have either sign: " + decomposition.report(),
        decomposition.zero and means.zero,
    )
