"""Checks of §2-3 of "Lecture 15: Policy Optimization with Trust Regions": KL facts, the second-order expansion,
Fisher, trust region.

The policy for the expansion is a softmax over ``n`` actions (``n`` = 2, 3, 4) at one state
with the last logit fixed at 0 (``n - 1`` parameters, so the Fisher matrix is invertible);
expansions are taken along ``theta = theta0 + t v`` as exact series in ``t``.
"""

from __future__ import annotations

import sympy as sp

from ._core import Finding, holds_if, identity
from ._gauss import gaussian_expectation, gaussian_log_ratio
from ._symbolic import grad

t = sp.Symbol("t", real=True)
#: Numbers of actions the softmax algebra is checked at.
ACTIONS = (2, 3, 4)


def _syms(n):
    """``(z, y, v)`` for ``n`` actions: exp(theta), exp(theta0) and the direction, ``n - 1`` each."""
    return (
        sp.symbols(f"z0:{n - 1}", positive=True),
        sp.symbols(f"y0:{n - 1}", positive=True),
        sp.symbols(f"v0:{n - 1}", real=True),
    )


def _softmax(params):
    """Softmax over ``len(params) + 1`` actions with logits (log z0, ..., 0)."""
    w = [sp.sympify(x) for x in params] + [sp.Integer(1)]
    return [wi / sum(w) for wi in w]


def _hess(expr, z):
    """Hessian in theta = log z: grad of grad."""
    g = grad(expr, z)
    return sp.Matrix(len(z), len(z), lambda i, j: z[j] * sp.diff(g[i], z[j]))


def _fisher(z, params):
    p = _softmax(z)
    scores = [grad(sp.log(pa), z) for pa in p]
    F = sum((pa * s * s.T for pa, s in zip(p, scores)), sp.zeros(len(z), len(z)))
    return F.subs(dict(zip(z, params))).applyfunc(sp.cancel)


def _kl(p, q):
    return sum(pa * (sp.log(pa) - sp.log(qa)) for pa, qa in zip(p, q))


def _ell_printed(z, y):
    """ell(theta) = E_{a ~ pi0}[log(pi_theta(a)/pi_theta0(a))] as printed (= -KL)."""
    p0, p = _softmax(y), _softmax(z)
    return sum(pa0 * (sp.log(pa) - sp.log(pa0)) for pa0, pa in zip(p0, p))


def _taylor2(expr, z, y, v):
    """Coefficients (c0, c1, c2) of ``expr`` at theta = theta0 + t v, as series in ``t``."""
    e = sp.expand_log(expr, force=True).subs({z[i]: y[i] * sp.exp(t * v[i]) for i in range(len(z))})
    return [sp.cancel(sp.expand_log(sp.diff(e, t, k).subs(t, 0), force=True) / sp.factorial(k)) for k in range(3)]


def _quad(v, M):
    return sp.cancel((sp.Matrix([v]) * M * sp.Matrix(v))[0])


def _unit(z, y, v):
    """theta0 = 0 and v = e_1."""
    return {**{s: 1 for s in (*z, *y)}, **{s: 0 for s in v}, v[0]: 1}


def _simplex(name, n):
    """A generic distribution over ``n`` outcomes: ``n - 1`` free symbols and the rest of the mass."""
    free = sp.symbols(f"{name}0:{n - 1}", positive=True)
    return free, [*free, 1 - sum(free)]


def kl_nonnegative(n: int = 3) -> Finding:
    """KL(P||Q) = sum_x Q phi(P/Q), phi(u) = u log u - u + 1 >= 0, zero iff u = 1 (``n`` outcomes)."""
    u = sp.Symbol("u", positive=True)
    phi = u * sp.log(u) - u + 1
    (p, P), (q, Q) = _simplex("p", n), _simplex("q", n)
    dom = {s: (sp.Rational(1, 9), sp.Rational(4, 3 * n)) for s in (*p, *q)}
    r = identity(
        sp.expand_log(_kl(P, Q), force=True),
        sp.expand_log(sum(Qx * phi.subs(u, Px / Qx) for Px, Qx in zip(P, Q)), force=True),
        domains=dom,
    )
    facts = [phi.subs(u, 1) == 0, sp.diff(phi, u).subs(u, 1) == 0, sp.simplify(sp.diff(phi, u, 2) - 1 / u) == 0]
    return holds_if(
        r.zero and all(facts),
        f"KL - sum Q phi(P/Q): {r.report()}; phi(1)=0, phi'(1)=0, phi''(u)=1/u>0: "
        f"{facts} (phi strictly convex with minimum 0 at u=1, so KL >= 0 with equality iff P=Q)",
    )


def kl_gaussian(dim: int = 2) -> Finding:
    """Printed: KL(N(mu1, s^2 I) || N(mu2, s^2 I)) = ||mu1 - mu2||^2 / s^2; truth has 1/2 (dimension ``dim``)."""
    x = sp.symbols(f"x0:{dim}", real=True)
    m1, m2 = sp.symbols(f"a0:{dim}", real=True), sp.symbols(f"b0:{dim}", real=True)
    s = sp.Symbol("sigma", positive=True)
    # isotropic: the log-ratio is a sum over coordinates, each coordinate ~ N(m1_i, s^2)
    kl = sum(gaussian_expectation(gaussian_log_ratio(x[i], m1[i], m2[i], s), x[i], m1[i], s) for i in range(dim))
    sq = sum((m1[i] - m2[i]) ** 2 for i in range(dim))
    r = identity(kl, sq / s**2)
    rc = identity(kl, sq / (2 * s**2))
    at = {**{v: 0 for v in (*m1, *m2)}, m1[0]: 1, s: 1}
    return Finding(
        "holds" if r.zero else "erratum",
        f"KL ({dim}-d, exact moments) - printed: " + r.report(),
        f"mu1 = e_1, mu2 = 0, sigma = 1 in dimension {dim}: KL = {kl.subs(at)}, printed = 1",
        "KL(N(mu1, s^2 I) || N(mu2, s^2 I)) = ||mu1 - mu2||^2 / (2 s^2): " + rc.report(),
        rc.zero,
    )


def ell_sign_and_hessian(n: int = 3) -> Finding:
    """With ell as printed (log pi_theta/pi_theta0), the Hessian at theta0 is -F, not F (``n`` actions)."""
    z, y, v = _syms(n)
    c = _taylor2(_ell_printed(z, y), z, y, v)
    quad_F = _quad(v, _fisher(z, y))
    r = identity(2 * c[2], quad_F)
    r_neg = identity(2 * c[2], -quad_F)
    rc = identity(2 * _taylor2(_kl(_softmax(y), _softmax(z)), z, y, v)[2], quad_F)
    at = _unit(z, y, v)
    return Finding(
        "holds" if r.zero else "erratum",
        f"v^T Hess ell(theta0) v - v^T F v: {r.report()}; against -F: {r_neg.report()}",
        f"one state, {n} actions, theta0 = 0, v = e_1: v^T Hess ell v = {(2 * c[2]).subs(at)}, "
        f"v^T F v = {quad_F.subs(at)}",
        "ell(theta) = E_{s,a ~ pi_theta0}[log(pi_theta0(a|s)/pi_theta(a|s))] = d_KL(theta0, theta) "
        "(the sign the proof then uses); its Hessian at theta0 is F: " + rc.report(),
        rc.zero,
    )


def ell_value_and_gradient(n: int = 3) -> Finding:
    """ell(theta0) = 0 and grad ell(theta0) = 0 (either sign; ``n`` actions)."""
    z, y, v = _syms(n)
    c = _taylor2(_ell_printed(z, y), z, y, v)
    r0, r1 = identity(c[0], 0), identity(c[1], 0)
    return holds_if(r0.zero and r1.zero, f"ell(theta0): {r0.report()}; v . grad ell(theta0): {r1.report()}")


def ell_expansion(n: int = 3) -> Finding:
    """Printed: ell ~ ell0 + grad^T D + D^T Hess D (no 1/2); the series coefficient of t^2 is (1/2) v^T H v."""
    z, y, v = _syms(n)
    kl = _kl(_softmax(y), _softmax(z))
    c = _taylor2(kl, z, y, v)
    quad = _quad(v, _hess(sp.expand_log(kl, force=True), z).subs(dict(zip(z, y))).applyfunc(sp.cancel))
    r = identity(c[2], quad)
    rc = identity(c[2], quad / 2)
    at = _unit(z, y, v)
    return Finding(
        "holds" if r.zero else "erratum",
        "t^2 coefficient - v^T H v: " + r.report(),
        f"{n} actions, theta0 = 0, v = e_1: t^2 coefficient = {c[2].subs(at)}, printed v^T H v = "
        f"{sp.simplify(quad.subs(at))}",
        "ell(theta) ~ ell(theta0) + grad ell(theta0)^T D + (1/2) D^T Hess ell(theta0) D: " + rc.report(),
        rc.zero,
    )


def hessian_is_fisher(n: int = 3) -> Finding:
    """The printed Hessian formula (of -log pi) and its first term vanishing: Hess KL(theta0) = F."""
    z, y, _ = _syms(n)
    p = _softmax(z)
    gp = [grad(pa, z) for pa in p]
    hess_terms = [-_hess(pa, z) / pa + g * g.T / pa**2 for pa, g in zip(p, gp)]
    r_formula = identity(_hess(-sp.log(p[0]), z), hess_terms[0])
    first = sum((pa * (-_hess(pa, z) / pa) for pa in p), sp.zeros(n - 1, n - 1))
    r_first = identity(first, sp.zeros(n - 1, n - 1))
    H = _hess(_kl(_softmax(y), p), z).subs(dict(zip(z, y)))
    r_F = identity(H, _fisher(z, y))
    return holds_if(
        r_formula.zero and r_first.zero and r_F.zero,
        f"Hess(-log pi) = -Hess pi/pi + grad pi grad pi^T/pi^2: {r_formula.report()}; "
        f"sum_a Hess pi(a) = 0: {r_first.report()}; Hess d_KL(theta0, .) at theta0 - F: {r_F.report()}",
    )


def _spd(d):
    """F = L L^T with a symbolic lower-triangular ``d x d`` L (positive diagonal)."""
    L = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"l{i}{j}", positive=i == j) if j <= i else 0)
    return L * L.T, L


def _lagrange(u, w):
    """sum_{i<j} (u_i w_j - u_j w_i)^2 = |u|^2 |w|^2 - (u . w)^2 (Lagrange's identity)."""
    n = len(u)
    return sum((u[i] * w[j] - u[j] * w[i]) ** 2 for i in range(n) for j in range(i + 1, n))


def trust_region_closed_form(d: int = 2) -> Finding:
    """max g^T D s.t. D^T F D <= delta: D = alpha F^-1 g, alpha = sqrt(delta / g^T F^-1 g) (``d`` parameters)."""
    F, L = _spd(d)
    g = sp.Matrix(sp.symbols(f"g0:{d}", real=True))
    D = sp.Matrix(sp.symbols(f"D0:{d}", real=True))
    delta = sp.Symbol("delta", positive=True)
    Finv = (L.T.inv() * L.inv()).applyfunc(sp.cancel)
    q = sp.cancel((g.T * Finv * g)[0])
    alpha = sp.sqrt(delta / q)
    Dstar = alpha * Finv * g
    r_feas = identity((Dstar.T * F * Dstar)[0], delta)
    r_val = identity((g.T * Dstar)[0] ** 2, delta * q)
    u, w = L.inv() * g, L.T * D  # g^T D = u . w, q = |u|^2, D^T F D = |w|^2
    r_cs = identity(q * (D.T * F * D)[0] - (g.T * D)[0] ** 2, _lagrange(u, w))
    return holds_if(
        r_feas.zero and r_val.zero and r_cs.zero,
        f"constraint active: {r_feas.report()}; (g^T D*)^2 = delta g^T F^-1 g: {r_val.report()}; "
        f"Cauchy-Schwarz (g^T F^-1 g)(D^T F D) - (g^T D)^2 = sum_(i<j) (u_i w_j - u_j w_i)^2 >= 0: "
        f"{r_cs.report()}",
    )


def trust_region_kl_scale(n: int = 3) -> Finding:
    """d_KL <= delta gives (1/2) D^T F D <= delta, so alpha = sqrt(2 delta / g^T F^-1 g), not sqrt(delta / ...)."""
    z, _, _ = _syms(n)
    g = sp.Matrix(range(1, n))
    F = _fisher(z, [1] * (n - 1))
    q = (g.T * F.inv() * g)[0]
    w = F.inv() * g
    kl_along = _kl(_softmax([1] * (n - 1)), _softmax([sp.exp(t * wi) for wi in w]))
    c2 = sp.simplify(sp.diff(kl_along, t, 2).subs(t, 0) / 2)  # d_KL ~ c2 alpha^2
    printed = sp.simplify(c2 * q**-1)  # alpha^2 = delta/q: d_KL/delta -> c2/q
    fixed = sp.simplify(c2 * 2 / q)
    r = identity(printed, 1)
    return Finding(
        "holds" if r.zero else "erratum",
        f"one state, {n} actions, theta0 = 0, g = {tuple(g)}: lim_{{delta->0}} d_KL(step)/delta = "
        f"{printed} with alpha = sqrt(delta/g^T F^-1 g), = {fixed} with sqrt(2 delta/...); ratio - 1: "
        f"{r.report()}",
        f"d_KL of the printed step is delta/2 to second order (ratio {printed}), not delta",
        "with d_KL ~ (1/2) D^T F D the trust region D^T F D <= 2 delta gives "
        "alpha = sqrt(2 delta / (grad J^T F^-1 grad J))",
        fixed == 1,
    )


def linear_step(d: int = 2) -> Finding:
    """max_D grad J^T D over ||D|| <= eps is attained at D = eps g/||g|| (parallel to the gradient; ``d``
    parameters)."""
    g = sp.Matrix(sp.symbols(f"g0:{d}", real=True))
    D = sp.Matrix(sp.symbols(f"D0:{d}", real=True))
    eps = sp.Symbol("epsilon", positive=True)
    norm_g = sp.sqrt((g.T * g)[0])
    Dstar = eps * g / norm_g
    r_val = identity((g.T * Dstar)[0], eps * norm_g)
    r_cs = identity((g.T * g)[0] * (D.T * D)[0] - (g.T * D)[0] ** 2, _lagrange(g, D))
    return holds_if(
        r_val.zero and r_cs.zero,
        f"g^T D* = eps ||g||: {r_val.report()}; Lagrange identity ||g||^2 ||D||^2 - (g^T D)^2 = "
        f"sum_(i<j) (g_i D_j - g_j D_i)^2 >= 0, so g^T D <= eps ||g|| for every feasible D: "
        f"{r_cs.report()}. Without a bound on ||D|| the linear model has no maximum, hence the "
        "step-size question that follows",
    )


def npg_fisher_estimate(n: int = 3) -> Finding:
    """One sample's F_t = score score^T has rank 1, so F_t^-1 does not exist for n - 1 >= 2 parameters.

    With ``n = 2`` actions (one parameter) the outer product is a non-zero scalar; the erratum
    needs ``n >= 3``: it is checked at ``n`` = 3, 4, 5.
    """
    z, y, _ = _syms(n)
    p = _softmax(z)
    scores = [grad(sp.log(pa), z) for pa in p]
    single = [identity((s * s.T).det(), 0) for s in scores]
    W = sum(y) + 1  # F W^2 is polynomial: Berkowitz is fast on it
    det_F = (_fisher(z, y) * W**2).applyfunc(sp.cancel).det(method="berkowitz") / W ** (2 * (n - 1))
    r_det = identity(det_F, sp.Mul(*_softmax(y)))
    at = dict(zip(z, [1] * (n - 1)))
    return Finding(
        "erratum" if all(r.zero for r in single) else "holds",
        f"det(score score^T) for each of the {n} actions: " + "; ".join(r.report() for r in single),
        f"one state, {n} actions, theta = 0, a = 0: score = {list(scores[0].subs(at))}, F_t = score "
        f"score^T = {(scores[0] * scores[0].T).subs(at).tolist()} is singular (det 0)",
        "F = E_{s,a~d}[score score^T] (averaged over the samples, or the exact expectation; a "
        "pseudo-inverse where F is singular, as for the over-parametrised tabular softmax); here "
        f"det F = prod_a pi_a > 0 (= {det_F.subs(dict(zip(y, [1] * (n - 1))))} at theta = 0): " + r_det.report(),
        r_det.zero,
    )
