"""Checks of the calculus quiz and of §3 (log-derivative trick) of "Lecture 6: The Policy Gradient".

Items 1-3 are proved for an arbitrary (undefined) function; elsewhere generic functions are
generic families with symbolic coefficients (so the random substitutions pick random members):
``p_theta`` a softmax over 2, 3 or 4 outcomes (finite X) or ``N(mu, sigma^2)`` with a polynomial R.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._core import Finding, holds_if, identity
from ._gauss import gaussian_density, gaussian_expectation
from ._symbolic import (
    expectation,
    finite_mdp,
    grad,
    objective,
    softmax_policy,
    total_return,
    trajectories,
    trajectory_score,
)

x = sp.Symbol("x", positive=True)


def _bandit(n=3):
    """Softmax over ``n`` outcomes: params z, probabilities p, symbolic rewards R."""
    pol = softmax_policy(1, n)
    R = sp.symbols(f"R0:{n}", real=True)
    return pol.params, list(pol.pi[0]), R


def quiz1() -> Finding:
    r = identity(sp.diff(sp.log(x), x), 1 / x)
    return holds_if(r.zero, "blank: 1/x. " + r.report(), r.counterexample())


def quiz2() -> Finding:
    """d/dx log f(x) = f'(x)/f(x) for an arbitrary (undefined) positive differentiable f: a proof, no sampling."""
    f = sp.Function("f", positive=True)(x)
    r = identity(sp.diff(sp.log(f), x), sp.diff(f, x) / f, n=0)
    return holds_if(r.zero, "blank: f'(x)/f(x), for every positive differentiable f. " + r.report())


def quiz3(k: int = 2) -> Finding:
    """grad_theta log f_theta(x) = grad_theta f_theta(x) / f_theta(x), f an arbitrary function of ``k`` parameters."""
    th = sp.symbols(f"theta0:{k}", real=True)
    f = sp.Function("f", positive=True)(*th, x)
    lhs = sp.Matrix([sp.diff(sp.log(f), t) for t in th])
    rhs = sp.Matrix([sp.diff(f, t) for t in th]) / f
    r = identity(lhs, rhs, n=0)
    return holds_if(
        r.zero,
        f"blank: grad_theta f_theta(x) / f_theta(x), every positive differentiable f of {k} parameters. " + r.report(),
    )


def quiz4(n: int = 3) -> Finding:
    z, p, _ = _bandit(n)
    r1 = identity(grad(sp.log(p[0]), z), grad(p[0], z) / p[0])
    r2 = identity(grad(p[0], z), p[0] * grad(sp.log(p[0]), z))
    res = f"blanks: grad p / p, and grad p = p grad log p. {r1.report()} | {r2.report()}"
    return holds_if(r1.zero and r2.zero, res, r1.counterexample() or r2.counterexample())


def quiz5(n: int = 3) -> Finding:
    z, p, R = _bandit(n)
    r = identity(grad(R[0] * sp.log(p[0]), z), R[0] * grad(p[0], z) / p[0])
    return holds_if(r.zero, "blank: R(x) grad p_theta(x) / p_theta(x). " + r.report(), r.counterexample())


def quiz6(n: int = 3) -> Finding:
    z, p, R = _bandit(n)
    lhs = grad(sum(Ri * sp.log(pi) for Ri, pi in zip(R, p)), z)
    rhs = sum((Ri * grad(pi, z) / pi for Ri, pi in zip(R, p)), sp.zeros(len(z), 1))
    r = identity(lhs, rhs)
    res = (
        "blank: int R(x) grad p/p dx (= int R grad log p dx; an integral against dx, "
        "not an expectation under p: it is NOT the gradient of E_p[R]). " + r.report()
    )
    return holds_if(r.zero, res, r.counterexample())


def quiz7(n: int = 3) -> Finding:
    z, p, R = _bandit(n)
    J = sum(Ri * pi for Ri, pi in zip(R, p))
    inside = sum((Ri * grad(pi, z) for Ri, pi in zip(R, p)), sp.zeros(len(z), 1))
    as_expectation = sum((pi * Ri * grad(sp.log(pi), z) for Ri, pi in zip(R, p)), sp.zeros(len(z), 1))
    r1, r2 = identity(grad(J, z), inside), identity(inside, as_expectation)
    res = f"blanks: int R grad p dx = E_p[R grad log p]. {r1.report()} | {r2.report()}"
    return holds_if(r1.zero and r2.zero, res, r1.counterexample() or r2.counterexample())


def quiz8(degree: int = 3) -> Finding:
    """Continuous case: p = N(mu, sigma^2), R a polynomial of ``degree`` with symbolic coefficients."""
    mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    y = sp.Symbol("y", real=True)
    R = sum(sp.Symbol(f"c{k}", real=True) * y**k for k in range(degree + 1))
    logp = sp.log(gaussian_density(y, mu, sigma))
    J = gaussian_expectation(R, y, mu, sigma)
    rhs = [gaussian_expectation(sp.expand(R * sp.simplify(sp.diff(logp, v))), y, mu, sigma) for v in (mu, sigma)]
    r = identity(sp.Matrix([sp.diff(J, mu), sp.diff(J, sigma)]), sp.Matrix(rhs))
    return holds_if(
        r.zero,
        f"blank: E_p[R(x) grad log p(x)], p = N(mu, sigma^2), R of degree {degree}, grad in (mu, sigma). " + r.report(),
        r.counterexample(),
    )


MDP_SIZES = ((2, 2, 2), (1, 3, 2), (1, 2, 3))


def _mdp_lr(gamma, size=(2, 2, 2)):
    S, A, H = size
    m = finite_mdp(S=S, A=A, H=H, seed=1, gamma=gamma)
    return m, trajectories(m), grad(objective(m), m.policy.params)


def quiz9(size=(2, 2, 2)) -> Finding:
    m, trajs, gJ = _mdp_lr(1, size)
    rhs = expectation(lambda t: total_return(m, t) * grad(sp.log(t.prob), m.policy.params), trajs)
    r = identity(gJ, rhs)
    return holds_if(r.zero, "blank: R(tau) grad log p_theta(tau). " + r.report(), r.counterexample())


def quiz10(size=(2, 2, 2)) -> Finding:
    g = sp.Symbol("gamma", positive=True)
    m, trajs, gJ = _mdp_lr(g, size)
    rhs = expectation(lambda t: total_return(m, t) * trajectory_score(m, t), trajs)
    r = identity(gJ, rhs, domains={g: (sp.Rational(1, 10), sp.Rational(9, 10))})
    res = "blank: (sum_t gamma^t r(s_t,a_t)) (sum_t grad log pi(a_t|s_t)). " + r.report()
    return holds_if(r.zero, res, r.counterexample())


def gradient_inside_is_wrong(n: int = 3) -> Finding:
    """E[grad R] = 0 since R does not depend on theta, but grad E[R] is not 0."""
    z, p, R = _bandit(n)
    inside = sp.zeros(len(z), 1)
    true = grad(sum(Ri * pi for Ri, pi in zip(R, p)), z)
    r = identity(true, inside)
    res = "E_p[grad R] = 0 identically; grad E_p[R] - 0: " + r.report()
    return Finding("holds" if not r.zero else "erratum", res, None if not r.zero else "grad E[R] vanished identically")


def log_derivative_chain(size=(2, 2, 2)) -> Finding:
    """eqs. (7)-(10): each consecutive equality on the trajectory space."""
    m, trajs, gJ = _mdp_lr(1, size)
    z = m.policy.params
    e8 = sum((total_return(m, t) * grad(t.prob, z) for t in trajs), sp.zeros(len(z), 1))
    e9 = sum((total_return(m, t) * t.prob * grad(sp.log(t.prob), z) for t in trajs), sp.zeros(len(z), 1))
    e10 = expectation(lambda t: total_return(m, t) * grad(sp.log(t.prob), z), trajs)
    checks = [identity(gJ, e8), identity(e8, e9, seed=1), identity(e9, e10, seed=2)]
    res = " | ".join(f"({i + 7})=({i + 8}): {r.report()}" for i, r in enumerate(checks))
    return holds_if(all(r.zero for r in checks), res)


def _pairs(p, n):
    return itertools.product(range(len(p)), repeat=n)


def monte_carlo_unbiased(n: int = 3, k: int = 2) -> Finding:
    """eqs. (12)-(13): the mean of k i.i.d. copies of R grad log p has mean grad E[R]."""
    z, p, R = _bandit(n)
    gJ = grad(sum(Ri * pi for Ri, pi in zip(R, p)), z)
    est = sp.zeros(len(z), 1)
    for xs in _pairs(p, k):
        prob = sp.Mul(*[p[i] for i in xs])
        est += prob * sum((R[i] * grad(sp.log(p[i]), z) for i in xs), sp.zeros(len(z), 1)) / k
    r = identity(gJ, est)
    return holds_if(
        r.zero, f"E over all {len(p)}^{k} samples of the k={k} estimator - grad J: " + r.report(), r.counterexample()
    )


def monte_carlo_of_grad_p_is_wrong(n: int = 3) -> Finding:
    """The 'incorrect math': (1/k) sum R grad p has mean sum p R grad p, not grad E[R]."""
    z, p, R = _bandit(n)
    gJ = grad(sum(Ri * pi for Ri, pi in zip(R, p)), z)
    mean = sum((pi * Ri * grad(pi, z) for Ri, pi in zip(R, p)), sp.zeros(len(z), 1))
    r = identity(mean, gJ)
    res = "E[(1/k) sum R grad p] - grad E[R] (lecture says these differ): " + r.report()
    return Finding("holds" if not r.zero else "erratum", res)


#: (S, A, H) of the MDPs with symbolic dynamics (trajectories end in s_H, so H = 1 has a transition).
SYMBOLIC_SIZES = ((2, 2, 1), (3, 2, 1), (2, 2, 2))


def dynamics_vanish(size=(2, 2, 2)) -> Finding:
    """eqs. (14)-(16) (and 001): grad log p(tau) = sum_t grad log pi(a_t|s_t), symbolic P, mu."""
    m = finite_mdp(size[0], size[1], size[2], dynamics="symbolic")
    reports = []
    ok = True
    for t in trajectories(m, final_state=True):
        r = identity(
            grad(sp.log(t.prob), m.policy.params),
            trajectory_score(m, t),
            domains={s: (sp.Rational(1, 9), sp.Rational(4, 9)) for s in t.dynamics.free_symbols},
        )
        ok &= r.zero
        reports.append(r)
    res = f"all {len(reports)} trajectories (transition and start symbols p..., m...): " + reports[0].report()
    return holds_if(ok, res, next((r.counterexample() for r in reports if not r.zero), None))


def trajectory_distribution(size=(2, 2, 2)) -> Finding:
    """eq. (2): p_0(s_0) prod_{t=0}^T p(s_{t+1}|s_t,a_t) pi(a_t|s_t) sums to 1 over (s_0..s_{T+1}, a_0..a_T)."""
    m = finite_mdp(size[0], size[1], size[2], dynamics="symbolic")
    trajs = trajectories(m, final_state=True)
    dom = {s: (sp.Rational(1, 9), sp.Rational(4, 9)) for t in trajs for s in t.dynamics.free_symbols}
    r = identity(sum(t.prob for t in trajs), 1, domains=dom)
    return holds_if(
        r.zero,
        f"T = {m.H - 1}, {len(trajs)} trajectories, symbolic p_0, p and softmax pi: sum - 1: " + r.report(),
        r.counterexample(),
    )
