"""Checks of Lindauer, "RL: Policy Search — Analytic Gradient" and Levine, "CS 285 Lecture 5".

Both use finite-horizon symbolic MDPs with trajectories that end in a state
(``tau = (s_0, a_0, ..., a_{T-1}, s_T)``), summed exactly; gamma = 1.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._core import Finding, holds_if, identity
from ._symbolic import expectation, finite_mdp, grad, objective, score, total_return, trajectories, trajectory_score

#: (S, A) of the MDPs each check runs at.
SA_SIZES = ((2, 2), (1, 3), (1, 2))


def _lr_setup(H=2, S=2, A=2, dynamics="random", seed=2):
    m = finite_mdp(S=S, A=A, H=H, seed=seed, dynamics=dynamics)
    trajs = trajectories(m, final_state=True)
    return m, trajs, grad(objective(m), m.policy.params)


def _zeros(m):
    return sp.zeros(len(m.policy.params), 1)


def reward_index_001(sa=(2, 2)) -> Finding:
    """tau has actions a_0..a_{T-1} but R sums r(s_t, a_t) to t = T."""
    m, trajs, gV = _lr_setup(H=2, S=sa[0], A=sa[1])  # literal reading with T = 1: a_T = a_1 is drawn too
    printed = expectation(lambda t: total_return(m, t) * score(m.policy, t.states[0], t.actions[0]), trajs)
    r = identity(gV, printed, symbolic=False)
    m1, trajs1, gV1 = _lr_setup(H=1, S=sa[0], A=sa[1])
    rc = identity(gV1, expectation(lambda t: total_return(m1, t) * trajectory_score(m1, t), trajs1))
    return Finding(
        "holds" if r.zero else "erratum",
        "T=1, R = r(s_0,a_0) + r(s_1,a_1) (a_1 ~ pi drawn to give R a meaning), score summed to T-1=0: "
        "grad V - E[R sum_{t<T} grad log pi]: " + r.report(),
        "the score misses a_T's term: " + (r.counterexample() or ""),
        "R(tau) = sum_{t=0}^{T-1} R(s_t, a_t) (the actions tau contains); then grad V = "
        "E[R(tau) sum_{t=0}^{T-1} grad log pi(a_t|s_t)]: " + rc.report(),
        rc.zero,
    )


def lr_steps_001(sa=(2, 2)) -> Finding:
    """grad sum P R = sum grad P R = sum (P/P) grad P R = sum P R grad P / P = sum P R grad log P."""
    m, trajs, gV = _lr_setup(S=sa[0], A=sa[1])
    z = m.policy.params
    lines = [
        sum((grad(t.prob, z) * total_return(m, t) for t in trajs), _zeros(m)),
        sum((t.prob / t.prob * grad(t.prob, z) * total_return(m, t) for t in trajs), _zeros(m)),
        sum((t.prob * total_return(m, t) * grad(t.prob, z) / t.prob for t in trajs), _zeros(m)),
        sum((t.prob * total_return(m, t) * grad(sp.log(t.prob), z) for t in trajs), _zeros(m)),
    ]
    rs = [identity(gV, lines[0])] + [identity(a, b, seed=i) for i, (a, b) in enumerate(zip(lines, lines[1:]))]
    return holds_if(all(r.zero for r in rs), " | ".join(r.report() for r in rs))


def _mean_of_n(m, trajs, n, f, scale):
    total = _zeros(m)
    for sample in itertools.product(trajs, repeat=n):
        total += sp.Mul(*[t.prob for t in sample]) * scale * sum((f(t) for t in sample), _zeros(m))
    return total


def monte_carlo_001(sa=(2, 2), n=2) -> Finding:
    """(1/m) sum_i R(tau_i) grad log P(tau_i) has mean grad V (m = 2, exact over all pairs)."""
    m, trajs, gV = _lr_setup(H=1, S=sa[0], A=sa[1])
    est = _mean_of_n(
        m, trajs, n, lambda t: total_return(m, t) * grad(sp.log(t.prob), m.policy.params), sp.Rational(1, n)
    )
    r = identity(gV, est)
    return holds_if(r.zero, f"H=1 (T=1), all {len(trajs)}^{n} pairs: " + r.report(), r.counterexample())


def decomposition_001(size=(2, 2, 2)) -> Finding:
    """grad log P(tau) = sum_{t=0}^{T-1} grad log pi(a_t|s_t) with symbolic mu and P (T = H)."""
    m = finite_mdp(size[0], size[1], size[2], dynamics="symbolic")
    ok, rep = True, ""
    for t in trajectories(m, final_state=True):
        dom = {s: (sp.Rational(1, 9), sp.Rational(4, 9)) for s in t.dynamics.free_symbols}
        r = identity(grad(sp.log(t.prob), m.policy.params), trajectory_score(m, t), domains=dom)
        ok &= r.zero
        rep = r.report()
    return holds_if(ok, f"every trajectory (s_0..s_{m.H}, symbolic mu and P): " + rep)


def log_gradient_004(sa=(2, 2)) -> Finding:
    m, trajs, gJ = _lr_setup(S=sa[0], A=sa[1], seed=4)
    r = identity(gJ, expectation(lambda t: grad(sp.log(t.prob), m.policy.params) * total_return(m, t), trajs))
    return holds_if(r.zero, "grad J - E[grad log pi(tau) r(tau)]: " + r.report(), r.counterexample())


def indices_004(sa=(2, 2)) -> Finding:
    """pi(tau) = p(s_1) prod_{t=1}^T pi(a_t|s_t) p(s_{t+1}|s_t,a_t) is a distribution; PG with t = 1..T."""
    m, trajs, gJ = _lr_setup(S=sa[0], A=sa[1], seed=4, dynamics="symbolic")
    dom = {s: (sp.Rational(1, 9), sp.Rational(4, 9)) for t in trajs for s in t.dynamics.free_symbols}
    r_sum = identity(sum(t.prob for t in trajs), 1, domains=dom)
    r = identity(gJ, expectation(lambda t: trajectory_score(m, t) * total_return(m, t), trajs), domains=dom)
    return holds_if(
        r_sum.zero and r.zero,
        f"T=2, s_1..s_3, symbolic dynamics: sum pi(tau) - 1: {r_sum.report()}; "
        f"grad J - E[(sum_t grad log pi) r(tau)]: {r.report()}",
    )


def mc_equality_004(sa=(2, 2)) -> Finding:
    """Printed '=' for the N-sample average: it is an unbiased estimate, equal only in expectation."""
    m, trajs, gJ = _lr_setup(H=1, S=sa[0], A=sa[1], seed=4)
    one = trajs[0]
    g1 = trajectory_score(m, one) * total_return(m, one)
    r = identity(g1, gJ, symbolic=False)
    est = _mean_of_n(m, trajs, 2, lambda t: trajectory_score(m, t) * total_return(m, t), sp.Rational(1, 2))
    rc = identity(est, gJ)
    return Finding(
        "holds" if r.zero else "erratum",
        "N = 1, tau = (s=0, a=0, s'=0): estimate - grad J: " + r.report(),
        "N = 1, tau = (s_1, a_1, s_2) = (0, 0, 0): estimate - grad J " + (r.counterexample() or ""),
        "E[(1/N) sum_i (sum_t grad log pi(a_t^i|s_t^i)) r(tau^i)] = grad J "
        "(the sample average only estimates it; N = 2, exact over all pairs): " + rc.report(),
        rc.zero,
    )


def dropped_one_over_n_004(sa=(2, 2)) -> Finding:
    """Without 1/N the sum has mean N grad J: alpha sum_i g_i = (alpha N) (1/N) sum_i g_i, the stated convention."""
    m, trajs, gJ = _lr_setup(H=1, S=sa[0], A=sa[1], seed=4)
    f = lambda t: trajectory_score(m, t) * total_return(m, t)
    sums = {n: _mean_of_n(m, trajs, n, f, 1) for n in (1, 2)}
    rs = [identity(sums[n], n * gJ) for n in (1, 2)]
    return holds_if(
        all(r.zero for r in rs),
        "E[sum_{i=1}^N g_i] - N grad J, N = 1, 2: "
        + " | ".join(r.report() for r in rs)
        + "; so the step alpha sum_i g_i is the 1/N-step with learning rate alpha N",
    )


def interpretation_004(sa=(2, 2)) -> Finding:
    """'A step along E[grad log pi(tau)] makes tau more probable': that expectation is 0."""
    m, trajs, _ = _lr_setup(S=sa[0], A=sa[1], seed=4)
    z = m.policy.params
    mean_score = expectation(lambda t: grad(sp.log(t.prob), z), trajs)
    r = identity(mean_score, _zeros(m))
    tau = trajs[len(trajs) // 2]
    g = grad(sp.log(tau.prob), z)
    rate = (grad(tau.prob, z).T * g)[0]
    rc = identity(rate, tau.prob * (g.T * g)[0])
    return Finding(
        "erratum" if r.zero else "holds",
        "E_tau[grad log pi(tau)]: " + r.report(),
        "E[grad log pi(tau)] = 0 identically (every component, every theta): that step does not move "
        "theta, so it makes no trajectory more probable",
        "for a sampled tau, a step along grad log pi(tau) raises pi(tau) at the rate "
        "grad pi(tau) . grad log pi(tau) = pi(tau) ||grad log pi(tau)||^2 >= 0; weighting by r(tau) sets "
        "the sign: " + rc.report(),
        rc.zero,
    )


def causality_004(size=(1, 2, 3)) -> Finding:
    """r(tau) = sum_{t=1}^T r(s_t,a_t) moved inside the sum over t: still grad J (default T = 3, one state)."""
    m = finite_mdp(size[0], size[1], size[2], seed=6)
    trajs = trajectories(m)
    gJ = grad(objective(m), m.policy.params)
    rhs = expectation(
        lambda t: sum(
            (
                score(m.policy, t.states[h], t.actions[h]) * m.r[t.states[k]][t.actions[k]]
                for h in range(m.H)
                for k in range(m.H)
            ),
            _zeros(m),
        ),
        trajs,
    )
    r = identity(gJ, rhs)
    return holds_if(
        r.zero, "grad J - E[sum_t sum_t' grad log pi(a_t|s_t) r(s_t', a_t')]: " + r.report(), r.counterexample()
    )
