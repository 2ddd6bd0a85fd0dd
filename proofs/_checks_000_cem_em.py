"""Checks of §4 (CEM as a weighted average, eqs. 32-36) and §5 (EM bound, eqs. 37-40).

CEM: ``p_mu = N(mu, I_d)`` (d = 1, 2, 3) and ``f`` a cubic with symbolic coefficients (exact
Gaussian moments).  EM: a finite trajectory space of 2, 3 or 4 outcomes with a softmax ``p_theta``,
positive returns ``R`` and a free distribution ``q``.
"""

from __future__ import annotations

import itertools
from functools import cache

import sympy as sp

from ._core import Finding, holds_if, identity
from ._gauss import gaussian_density, isotropic_expectation
from ._symbolic import softmax_policy

#: Dimensions of the Gaussian N(mu, I_d) of the CEM claims.
DIMS = (1, 2, 3)


@cache
def _gauss(d):
    """Coordinates x, mean mu and a generic cubic f (symbolic coefficients) in dimension ``d``."""
    xs, mus = sp.symbols(f"x0:{d}", real=True), sp.symbols(f"mu0:{d}", real=True)
    monos = [m for m in itertools.product(range(4), repeat=d) if sum(m) <= 3]
    f = sum(sp.Symbol(f"c{i}", real=True) * sp.Mul(*[xi**k for xi, k in zip(xs, m)]) for i, m in enumerate(monos))
    E = lambda g: isotropic_expectation(sp.expand(g), xs, mus, 1)
    return sp.Matrix(xs), sp.Matrix(mus), f, E


@cache
def _score_moments(d):
    """``(E[f (x - mu)], E[f x] - mu E[f])`` for the generic cubic f of :func:`_gauss` (shared by (33) and (35))."""
    xs, mus, f, E = _gauss(d)
    return (xs - mus).applyfunc(lambda e: E(f * e)), xs.applyfunc(lambda e: E(f * e)) - mus * E(f)


def _density(xs, mus):
    return sp.Mul(*[gaussian_density(xi, mi, 1) for xi, mi in zip(xs, mus)])


def eq_33(d: int = 1) -> Finding:
    """Printed: grad E[f] = E[f grad p]; with f(x) = x_1 at mu = 0 the two sides differ (N(mu, I_d))."""
    xs, mus, f, E = _gauss(d)
    p_mu = _density(xs, mus)
    at0 = {m_: 0 for m_ in mus}
    integrand = xs[0] * p_mu.subs(at0) * sp.Matrix([sp.diff(p_mu, m_) for m_ in mus]).subs(at0)
    printed = integrand.applyfunc(lambda e: sp.integrate(e, *[(xi, -sp.oo, sp.oo) for xi in xs]))
    truth = sp.Matrix([sp.diff(E(xs[0]), m_) for m_ in mus]).subs(at0)
    r = identity(printed, truth)
    corrected = identity(sp.Matrix([sp.diff(E(f), m_) for m_ in mus]), _score_moments(d)[0])
    return Finding(
        "holds" if r.zero else "erratum",
        f"{d}-d, f(x)=x_1, mu=0: E[f grad_mu p] - grad_mu E[f]: " + r.report(),
        f"f(x) = x_1, mu = 0 in dimension {d}: E_p[x_1 d/dmu_1 p(x)] = {sp.simplify(printed[0])} = "
        f"{sp.N(printed[0], 6)} but d/dmu_1 E[x_1] = 1",
        "grad_mu E_p[f(x)] = E_p[f(x) grad_mu log p_mu(x)] (cubic f, symbolic mu): " + corrected.report(),
        corrected.zero,
    )


def eq_34(d: int = 1) -> Finding:
    """Printed score: 1/2 ||mu - x||^2 (in every coordinate); the score of N(mu, I_d) is x - mu."""
    xs, mus, _, _ = _gauss(d)
    logp = sp.expand_log(sp.log(_density(xs, mus)), force=True)
    score = sp.Matrix([sp.diff(logp, m_) for m_ in mus])
    half_sq = ((mus - xs).T * (mus - xs))[0] / 2
    r = identity(score, sp.Matrix([half_sq] * d))
    rc = identity(score, xs - mus)
    at = {**{v: 0 for v in (*xs, *mus)}, xs[0]: 1}
    return Finding(
        "holds" if r.zero else "erratum",
        f"{d}-d: grad_mu log N(x; mu, I) - (1/2)||mu - x||^2: " + r.report(),
        f"mu=0, x=e_1: first component of the score = {score[0].subs(at)}, printed = {half_sq.subs(at)}; "
        + (r.counterexample() or ""),
        "grad_mu log p_mu(x) = x - mu ((1/2)||mu - x||^2 is -log p_mu(x) + const): " + rc.report(),
        rc.zero,
    )


def eq_35(d: int = 1) -> Finding:
    """E[f(x)(x - mu)] = 0 <=> E[f] mu = E[f x]: follows from the corrected (34) only (N(mu, I_d))."""
    xs, mus, f, E = _gauss(d)
    with_score, target = _score_moments(d)
    r = identity(with_score, target)
    printed = E(f * ((mus - xs).T * (mus - xs))[0] / 2)
    r_printed = identity(sp.Matrix([printed] * d), target)
    kind = "justification" if r.zero and not r_printed.zero else ("holds" if r.zero else "erratum")
    return Finding(
        kind,
        f"{d}-d, with score x-mu: E[f(x)(x-mu)] - (E[fx] - mu E[f]): {r.report()}; "
        f"with printed (34): {r_printed.report()}",
        "setting the printed (34) to zero is E[f ||mu-x||^2/2] = 0, not (35): " + (r_printed.counterexample() or ""),
        "E[f(x)(x - mu)] = 0  <=>  E[f(x)] mu = E[f(x) x] (from grad_mu log p = x - mu)",
        r.zero,
    )


def eq_36(k: int = 4) -> Finding:
    """The sample form is a weighted average (weights sum to 1); f in {0,1}: mean of the elites (k samples)."""
    fs, xs = sp.symbols(f"f0:{k}", positive=True), sp.symbols(f"x0:{k}", real=True)
    ratio = (sum(f * xi for f, xi in zip(fs, xs)) / k) / (sum(fs) / k)
    weighted = sum((f / k) / (sum(fs) / k) * xi for f, xi in zip(fs, xs))
    r1 = identity(ratio, weighted)
    r2 = identity(sum((f / k) / (sum(fs) / k) for f in fs), 1)
    elites = range(0, k, 2)
    elite = weighted.subs({f: int(i in elites) for i, f in enumerate(fs)})
    r3 = identity(elite, sum(xs[i] for i in elites) / len(elites))
    return holds_if(
        r1.zero and r2.zero and r3.zero,
        f"ratio = weighted sum: {r1.report()}; weights sum to 1: {r2.report()}; "
        f"f = 1 on samples {list(elites)}, 0 elsewhere, gives the elite mean: {r3.report()}",
    )


def fixed_point_36(d: int = 1) -> Finding:
    """mu = E_mu[f x]/E_mu[f] is a fixed-point condition: it holds at the stationary mu of E[f] (N(mu, I_d))."""
    xs, mus, _, E = _gauss(d)
    cs = sp.Matrix(sp.symbols(f"c1:{d + 1}", real=True))
    f = (cs.T * xs)[0] - (xs.T * xs)[0]  # E[f] = c.mu - ||mu||^2 - d, maximised at mu = c/2
    update = xs.applyfunc(lambda e: E(f * e)) / E(f)
    star = sp.solve([sp.diff(E(f), m_) for m_ in mus], list(mus), dict=True)[0]
    r_fixed = identity(update.subs(star), mus.subs(star))
    r_move = identity(update, mus)
    ok = r_fixed.zero and not r_move.zero
    return holds_if(
        ok,
        f"{d}-d, f = c.x - ||x||^2: stationary mu* = {tuple(mus.subs(star))}; update(mu*) - mu*: "
        f"{r_fixed.report()}; update(mu) - mu away from mu*: {r_move.report()} (non-zero: the update moves mu)",
    )


def _em_space(n: int = 3):
    """``n`` outcomes: softmax p_theta, positive returns R, a free distribution q (``n - 1`` symbols)."""
    pol = softmax_policy(1, n)
    p = list(pol.pi[0])
    R = sp.symbols(f"R0:{n}", positive=True)
    q = sp.symbols(f"q0:{n - 1}", positive=True)
    qs = [*q, 1 - sum(q)]
    return pol.params, p, R, qs


def _em_dom(n):
    """q_i in [1/9, 4/(3n)]: the last mass stays positive."""
    return {sp.Symbol(f"q{i}", positive=True): (sp.Rational(1, 9), sp.Rational(4, 3 * n)) for i in range(n - 1)}


#: Numbers of outcomes of the EM bound, and dimensions of the toy objective of (37)-(38).
OUTCOMES = (2, 3, 4)


def eqs_37_38(k: int = 1) -> Finding:
    """(38) as printed equates argmax_theta (a parameter) with log E[R q/q] (a value of the objective).

    Toy objective E[R](theta) = 1 + exp(-||theta - 2||^2)/2, theta in R^k: the printed equality
    compares the argmax (2, ..., 2) with log E[R q/q] at that theta, log(3/2).  The correction
    (no argmax) is checked on a (k+1)-outcome space with softmax p_theta, positive R and a free q.
    """
    th = sp.symbols(f"theta0:{k}", real=True)
    bump = sp.exp(-sum((ti - 2) ** 2 for ti in th))
    J = 1 + sp.Rational(1, 2) * bump
    # d log J / d theta_i = (dJ/dtheta_i) / J with J > 0 and dJ/dtheta_i = bump * (polynomial in theta_i), bump > 0
    star = {ti: sp.solve(sp.cancel(sp.diff(J, ti) / bump), ti)[0] for ti in th}
    argmax = sp.Matrix([star[ti] for ti in th])
    value = sp.log(J.subs(star))  # log E[R q/q] = log E[R] at the argmax
    r = identity(argmax, sp.Matrix([value] * k))
    z, p, R, q = _em_space(k + 1)
    lhs = sp.log(sum(Ri * pi for Ri, pi in zip(R, p)))
    rhs = sp.log(sum(qi * Ri * pi / qi for Ri, pi, qi in zip(R, p, q)))
    rc = identity(lhs, rhs, domains=_em_dom(k + 1))
    return Finding(
        "holds" if r.zero else "erratum",
        "printed (37)=(38): argmax - log E[R q/q]: " + r.report(),
        f"argmax_theta log E[R] = {tuple(argmax)} (a parameter) but log E[R q/q] there = {value} = {sp.N(value, 6)}",
        "log E_{p_theta}[R] = log E_q[R p_theta / q] (no argmax on either side; q > 0 wherever R p_theta > 0): "
        + rc.report(),
        rc.zero,
    )


def _elbo(R, p, q):
    return sum(qi * (sp.log(Ri) + sp.log(pi) - sp.log(qi)) for Ri, pi, qi in zip(R, p, q))


def eq_39(n: int = 3) -> Finding:
    """ELBO: log E_p[R] - E_q[log R + log p - log q] = KL(q || R p / Z) >= 0 (``n`` outcomes)."""
    z, p, R, q = _em_space(n)
    Z = sum(Ri * pi for Ri, pi in zip(R, p))
    post = [Ri * pi / Z for Ri, pi in zip(R, p)]
    kl = sum(qi * (sp.log(qi) - sp.log(ri)) for qi, ri in zip(q, post))
    dom = _em_dom(n)
    r = identity(sp.expand_log(sp.log(Z) - _elbo(R, p, q), force=True), sp.expand_log(kl, force=True), domains=dom)
    phi = lambda u: u * sp.log(u) - u + 1
    gibbs = identity(kl, sum(ri * phi(qi / ri) for qi, ri in zip(q, post)), domains=dom)
    return holds_if(
        r.zero and gibbs.zero,
        f"gap - KL(q||q*): {r.report()}; KL = sum q* phi(q/q*) with phi(u)=u log u-u+1 >= 0 "
        f"(phi(1)=0, phi'(1)=0, phi''=1/u>0): {gibbs.report()}",
    )


def eq_39_equality(n: int = 3) -> Finding:
    """Equality at q = R p / int R p (``n`` outcomes)."""
    z, p, R, _ = _em_space(n)
    Z = sum(Ri * pi for Ri, pi in zip(R, p))
    q = [Ri * pi / Z for Ri, pi in zip(R, p)]
    r = identity(sp.expand_log(_elbo(R, p, q), force=True), sp.expand_log(sp.log(Z), force=True))
    return holds_if(r.zero, "ELBO(q*) - log E[R]: " + r.report(), r.counterexample())


def eq_40(n: int = 3) -> Finding:
    """'>=' holds, in fact with equality: max over q of the ELBO is log E[R] for every theta (``n`` outcomes)."""
    z, p, R, q = _em_space(n)
    Z = sum(Ri * pi for Ri, pi in zip(R, p))
    elbo = _elbo(R, p, q)
    qsyms = q[:-1]
    stationary = [sp.diff(elbo, s) for s in qsyms]
    star = {qsyms[i]: R[i] * p[i] / Z for i in range(n - 1)}
    r = identity(sp.Matrix(stationary).subs(star), sp.zeros(n - 1, 1))
    hess = sp.hessian(elbo, qsyms)
    minus_h = sp.diag(*[1 / s for s in qsyms]) + sp.ones(n - 1, n - 1) / q[-1]
    concave = identity(hess, -minus_h, domains=_em_dom(n))
    return holds_if(
        r.zero and concave.zero,
        f"q* is a stationary point of the ELBO in q: {r.report()}; Hessian = -(diag(1/q_i) + "
        f"11^T/q_last), negative definite on the simplex: {concave.report()}; so max_q ELBO = log E[R] "
        "and the two maxima in (40) are equal ('>=' holds with equality)",
    )
