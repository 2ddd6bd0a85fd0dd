"""Checks of the derivations and quantitative remarks the first audit left uncovered.

One function per claim, grouped by lecture; each decides its printed statement through
:func:`proofs._core.identity` (so the mutation test can flip it).
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._checks_003_pg import backward
from ._checks_003_ppo import chain_hit
from ._core import Finding, holds_if, identity
from ._gauss import gaussian_density, gaussian_expectation, isotropic_expectation
from ._symbolic import finite_mdp, grad, objective, score, softmax_policy, total_return, trajectories, trajectory_score

R = sp.Rational
x, mu = sp.Symbol("x", real=True), sp.Symbol("mu", real=True)
th = sp.Symbol("theta", real=True)


# ------------------------------------------------------------------ Lecture 6: The Policy Gradient
def argmax_log() -> Finding:
    """(37): argmax E[R] = argmax log E[R] for E[R] > 0: d log J = J'/J has J's zeros and sign (undefined J)."""
    J = sp.Function("J", positive=True)(th)
    r = identity(sp.diff(sp.log(J), th), sp.diff(J, th) / J, n=0)
    return holds_if(
        r.zero,
        "for every positive differentiable J(theta): d/dtheta log J - J'/J: "
        + r.report()
        + "; J > 0, so log J and J have the same stationary points and are increasing together",
    )


def returns_positive(n: int = 3) -> Finding:
    """'WLOG returns are positive': E[R + c] = E[R] + c, so a shift keeps the argmax (softmax over n outcomes)."""
    pol = softmax_policy(1, n)
    Rs, c = sp.symbols(f"R0:{n}", real=True), sp.Symbol("c", real=True)
    p = pol.pi[0]
    r = identity(sum(pa * (Ra + c) for pa, Ra in zip(p, Rs)), sum(pa * Ra for pa, Ra in zip(p, Rs)) + c)
    return holds_if(r.zero, "E[R + c] - (E[R] + c): " + r.report() + " (the shift c > -min R makes R positive)")


def gradient_ascent_step(d: int = 2) -> Finding:
    """(4): d/deta f(x + eta grad f) at eta = 0 is ||grad f||^2 >= 0 (generic cubic f of ``d`` variables)."""
    xs, eta = sp.symbols(f"x1:{d + 1}", real=True), sp.Symbol("eta", real=True)
    monos = [m for m in itertools.product(range(4), repeat=d) if sum(m) <= 3]
    f = sum(sp.Symbol(f"c{i}", real=True) * sp.Mul(*[v**k for v, k in zip(xs, m)]) for i, m in enumerate(monos))
    g = [sp.diff(f, v) for v in xs]
    moved = f.subs({v: v + eta * gv for v, gv in zip(xs, g)}, simultaneous=True)
    r = identity(sp.diff(moved, eta).subs(eta, 0), sum(gv**2 for gv in g))
    return holds_if(
        r.zero,
        f"{d} variables: d/deta f(x + eta grad f)|_0 - ||grad f||^2: "
        + r.report()
        + " (> 0 where grad f != 0: a small enough step increases f)",
    )


def gradient_inside_integral(degree: int = 2) -> Finding:
    """(7)-(8): d/dmu int R p_mu dx = int R d/dmu p_mu dx, p_mu = N(mu, 1), R a generic polynomial (integrated)."""
    Rx = sum(sp.Symbol(f"c{k}", real=True) * x**k for k in range(degree + 1))
    u = sp.Symbol("u", real=True)  # x = mu + u: the bounds stay (-oo, oo)
    integrand = sp.expand(sp.powsimp((Rx * sp.diff(gaussian_density(x, mu, 1), mu)).subs(x, mu + u)))
    inside = sp.integrate(integrand, (u, -sp.oo, sp.oo))
    r = identity(sp.diff(gaussian_expectation(Rx, x, mu, 1), mu), inside)
    return holds_if(
        r.zero, f"R of degree {degree}: d/dmu E[R] - int R dp/dmu dx (bounds do not depend on mu): " + r.report()
    )


def plug_into_13(size=(1, 2, 2)) -> Finding:
    """'Plugging (16) into Eq. 13': the k-sample estimator (1/k) sum R(tau) sum_t grad log pi(a_t|s_t) is unbiased (k =
    2)."""
    m = finite_mdp(size[0], size[1], size[2], seed=12)
    trajs = trajectories(m)
    z = m.policy.params
    f = lambda t: total_return(m, t) * trajectory_score(m, t)
    est = sp.zeros(len(z), 1)
    for pair in itertools.product(trajs, repeat=2):
        est += pair[0].prob * pair[1].prob * (f(pair[0]) + f(pair[1])) / 2
    r = identity(est, grad(objective(m), z))
    return holds_if(r.zero, f"E over all {len(trajs)}^2 pairs of the k = 2 estimator - grad J: " + r.report())


# ------------------------------------------------------- Lindauer, RL: Policy Search -- Analytic Gradient
def value_as_sum(size=(2, 2, 2)) -> Finding:
    """V(theta) = E[sum_t R(s_t, a_t)] = sum_tau P(tau) R(tau): the backward recursion against the trajectory sum."""
    m = finite_mdp(size[0], size[1], size[2], seed=13)
    Q, V, d = backward(m, m.policy.pi)
    r = identity(objective(m), sum(m.mu[s] * V[0][s] for s in range(m.S)))
    return holds_if(r.zero, "sum_tau P R - mu^T V_0 (dynamic programming): " + r.report())


def zero_probability_paths(size=(2, 2, 2)) -> Finding:
    """The P/P step needs P(tau) > 0: with a zero transition, paths of probability 0 have grad P = 0 and drop out."""
    m = finite_mdp(size[0], size[1], size[2], seed=2)
    P = list(map(list, m.P))
    P[0][0] = (sp.Integer(1),) + (sp.Integer(0),) * (m.S - 1)  # s=0, a=0 never leads to s' != 0
    m = type(m)(m.S, m.A, m.H, tuple(map(tuple, P)), m.r, m.mu, m.gamma, m.policy)
    trajs = trajectories(m, final_state=True)
    z = m.policy.params
    live = [t for t in trajs if t.dynamics != 0]
    dead = sum((grad(t.prob, z) * total_return(m, t) for t in trajs if t.dynamics == 0), sp.zeros(len(z), 1))
    lr = sum((t.prob * total_return(m, t) * grad(sp.log(t.prob), z) for t in live), sp.zeros(len(z), 1))
    r = identity(grad(objective(m), z), lr + dead)
    return holds_if(
        r.zero and dead == sp.zeros(len(z), 1),
        f"{len(trajs) - len(live)} of {len(trajs)} paths have P = 0 for every theta (their grad P R = "
        f"{list(dead)}); grad V - sum_(P>0) P R grad log P: " + r.report(),
    )


# ---------------------------------------------- Lecture 15: Policy Optimization with Trust Regions
def too_far_decreases(d: int = 1) -> Finding:
    """Gaussian policy N(mu, I_d), reward -||x||^2: J(mu) = -||mu||^2 - d; J(mu0 + alpha grad J) - J(mu0) = 4 ||mu0||^2
    alpha (1 - alpha)."""
    xs, mus = sp.symbols(f"x0:{d}", real=True), sp.symbols(f"mu0:{d}", real=True)
    alpha = sp.Symbol("alpha", positive=True)
    J = lambda m_: isotropic_expectation(-sum(xi**2 for xi in xs), xs, m_, 1)
    g = [sp.diff(J(mus), m_) for m_ in mus]
    r = identity(
        J([m_ + alpha * gi for m_, gi in zip(mus, g)]) - J(mus), 4 * sum(m_**2 for m_ in mus) * alpha * (1 - alpha)
    )
    e1 = {m_: int(i == 0) for i, m_ in enumerate(mus)}
    at = (J([e1[m_] + R(3, 2) * gi.subs(e1) for m_, gi in zip(mus, g)]), J([e1[m_] for m_ in mus]))
    return holds_if(
        r.zero,
        f"{d}-d: J(mu0 + alpha grad J) - J(mu0) - 4 ||mu0||^2 alpha (1 - alpha): "
        + r.report()
        + f"; negative for alpha > 1: mu0 = e_1, alpha = 3/2 gives J = {at[0]} < J(mu0) = {at[1]}",
    )


def kl_marginal(A: int = 3) -> Finding:
    """d_KL: E_{s~d}[KL(pi0(.|s) | pi(.|s))] = E_{s,a ~ d, pi0}[log pi0/pi] (2 states, ``A`` actions, symbolic d)."""
    new, old = softmax_policy(2, A, "z"), softmax_policy(2, A, "y")
    d0 = sp.Symbol("d0", positive=True)
    d = (d0, 1 - d0)
    kl = lambda s: sum(p0 * sp.log(p0 / p) for p0, p in zip(old.pi[s], new.pi[s]))
    lhs = sum(d[s] * kl(s) for s in range(2))
    rhs = sum(d[s] * old.pi[s][a] * (sp.log(old.pi[s][a]) - sp.log(new.pi[s][a])) for s in range(2) for a in range(A))
    r = identity(sp.expand_log(lhs, force=True), sp.expand_log(rhs, force=True), domains={d0: (R(1, 9), R(8, 9))})
    return holds_if(r.zero, f"E_s KL - E_{{s,a}} log(pi0/pi), 2 states, {A} actions: " + r.report())


def preconditioning(d: int = 2) -> Finding:
    """F = diag(s_1..s_d) on J = -sum_i s_i (t_i - c_i)^2 / 2: the natural step F^-1 grad J lands on the maximiser."""
    s = sp.symbols(f"sigma1:{d + 1}", positive=True)
    t, c = sp.symbols(f"t1:{d + 1}", real=True), sp.symbols(f"c1:{d + 1}", real=True)
    J = -sum(si * (ti - ci) ** 2 for si, ti, ci in zip(s, t, c)) / 2
    g = sp.Matrix([sp.diff(J, v) for v in t])
    step = sp.Matrix(t) + sp.diag(*s).inv() * g
    r = identity(step, sp.Matrix(c))
    alpha = sp.Symbol("alpha", positive=True)
    plain = sp.Matrix(t) + alpha * g - sp.Matrix(c)
    return holds_if(
        r.zero,
        f"{d} parameters: theta + F^-1 grad J - argmax: " + r.report() + "; a plain step alpha "
        f"grad J leaves {list(plain.applyfunc(sp.factor))}: every coordinate vanishes only if "
        "alpha = 1/sigma_i for all i",
    )


def grad_ell_everywhere(n: int = 3) -> Finding:
    """grad_theta KL(pi0 | pi_theta) = E_{a~pi0}[-grad pi_theta/pi_theta] at every theta (one state, n actions)."""
    new, old = softmax_policy(1, n, "z"), softmax_policy(1, n, "y")
    p0, p = old.pi[0], new.pi[0]
    ell = sum(a * (sp.log(a) - sp.log(b)) for a, b in zip(p0, p))
    rhs = sum((a * (-grad(b, new.params) / b) for a, b in zip(p0, p)), sp.zeros(n, 1))
    r = identity(grad(ell, new.params), rhs)
    return holds_if(r.zero, "grad ell(theta) - E_{pi0}[-grad pi/pi], theta != theta0: " + r.report())


# ------------------------------------------------------------------ Policy Gradient (continued)
def reset_uniform() -> Finding:
    """Reset uniformly along the chain: P(hit) >= 1/(H+1) (the start at the goal's side), against 3^-H from s_0."""
    rows = []
    for H in range(2, 7):
        p_reset = sum(chain_hit(H, start=k) for k in range(H + 1)) / (H + 1)
        rows.append((H, p_reset))
    shortfall = sp.Matrix([sp.Min(p - R(1, H + 1), 0) for H, p in rows])
    r = identity(shortfall, sp.zeros(len(rows), 1))
    return holds_if(
        r.zero,
        "min(P_reset(hit) - 1/(H+1), 0), H = 2..6: "
        + r.report()
        + "; "
        + ", ".join(f"H={H}: {p} vs 3^-H = {R(1, 3**H)}" for H, p in rows),
    )


def sample_surrogate(n: int = 3) -> Finding:
    """l_hat(theta) = sum_i pi_theta(a_i|s)/pi_t(a_i|s) A(s, a_i), a_i ~ pi_t: E[l_hat] = N E_{a~pi_theta}[A] (N = 2, n
    actions)."""
    new, old = softmax_policy(1, n, "z"), softmax_policy(1, n, "y")
    A = sp.symbols(f"A0:{n}", real=True)
    p, pt = new.pi[0], old.pi[0]
    mean = sum(pt[a] * pt[b] * (p[a] / pt[a] * A[a] + p[b] / pt[b] * A[b]) for a in range(n) for b in range(n))
    r = identity(mean, 2 * sum(p[a] * A[a] for a in range(n)))
    return holds_if(r.zero, f"E[l_hat] - N l(theta), N = 2, one state, {n} actions: " + r.report())


def advantage_constant() -> Finding:
    """Reward r(a) per step, one state: Q_h = r(a) + (H-h-1) E_pi r grows with H, A_h = r(a) - E_pi r does not (H =
    1..4)."""
    ok, rows = True, []
    for H in range(1, 5):
        m = finite_mdp(S=1, A=2, H=H)
        Q, V, _ = backward(m, m.policy.pi)
        mean_r = sum(m.policy.pi[0][a] * m.r[0][a] for a in range(2))
        for h in range(H):
            res = identity(
                sp.Matrix([Q[h][0][a] - V[h][0] for a in range(2)]), sp.Matrix([m.r[0][a] - mean_r for a in range(2)])
            )
            ok &= res.zero
            rows.append(res)
    return holds_if(
        ok,
        "A_h(a) - (r(a) - E_pi r), every h < H, H = 1..4: "
        + rows[-1].report()
        + "; |A| <= max r - min r for every H while Q_h grows like (H - h) E_pi r",
    )


def local_optimum(L: int = 1) -> Finding:
    """s0: 'exit' pays 1/2, 'go' enters a chain of ``L`` states; choosing 'right' at each (prob delta_i) pays 1 at its
    end.

    Direct policy, eps = P(go): J = 1/2 + eps (prod_i delta_i - 1/2).  At eps = 0, delta = 0 no feasible
    direction increases J (dJ/deps = -1/2, dJ/ddelta_i = 0): a local maximum with J = 1/2 < J* = 1.
    """
    eps, delta = sp.Symbol("epsilon", positive=True), sp.symbols(f"delta1:{L + 1}", positive=True)
    J = (1 - eps) * R(1, 2) + eps * sp.Mul(*delta) * 1  # a wrong action anywhere in the chain pays 0
    r = identity(J - R(1, 2), eps * (sp.Mul(*delta) - R(1, 2)))
    corner = {v: 0 for v in (eps, *delta)}
    grad0 = [sp.diff(J, v).subs(corner) for v in (eps, *delta)]
    best = J.subs({v: 1 for v in (eps, *delta)})
    return holds_if(
        r.zero and grad0[0] < 0,
        f"chain of {L}: J - 1/2 - eps (prod delta - 1/2): {r.report()}; "
        f"gradient at the corner (eps, delta) = 0: {grad0}: J <= 1/2 near it while J* = J(1, ..., 1) "
        f"= {best}",
    )


def stop_updating_typo(n: int = 2) -> Finding:
    """'Stop updating pi_theta(a|s) if it is too different from pi_theta(a|s)': the ratio of a policy to itself is 1."""
    new, old = softmax_policy(1, n, "z"), softmax_policy(1, n, "y")
    printed = new.pi[0][0] / new.pi[0][0]
    meant = new.pi[0][0] / old.pi[0][0]
    r = identity(printed, meant)
    return Finding(
        "holds" if r.zero else "erratum",
        "printed ratio pi_theta/pi_theta - pi_theta/pi_theta_t: " + r.report(),
        "pi_theta(a|s)/pi_theta(a|s) = 1 for every theta: the printed criterion never "
        "fires, while clip(pi_theta/pi_theta_t, 1-eps, 1+eps) does",
        "stop updating pi_theta(a|s) once it is too different from pi_theta_t(a|s) (the ratio "
        "pi_theta/pi_theta_t leaves [1-eps, 1+eps])",
        True,
    )


# ------------------------------------------------------- Levine, CS 285 Lecture 5: Policy Gradients
def actions_raised(H: int = 3) -> Finding:
    """A step along grad log pi(tau) raises log pi(tau) but can lower one of its actions (a state visited twice).

    One state, 2 actions, tau's actions (0, 1, ..., 1) over ``H`` steps, uniform policy: the rate of
    log pi(a_0) along g = sum_t grad log pi(a_t) is score(0) . g = (2 - H)/2 < 0 for H >= 3.
    """
    m = finite_mdp(S=1, A=2, H=H)
    pol = m.policy
    acts = (0,) + (1,) * (H - 1)
    g = sum((score(pol, 0, a) for a in acts), sp.zeros(2, 1))
    uniform = {z: 1 for z in pol.params}
    rates = [(score(pol, 0, a).T * g)[0].subs(uniform) for a in acts]
    r = identity(sp.Min(rates[0], 0), 0)
    rc = identity(sum((score(pol, 0, a).T * g)[0] for a in acts), (g.T * g)[0])
    return Finding(
        "holds" if r.zero else "erratum",
        f"H = {H}: min(rate of log pi(a_0|s), 0): " + r.report(),
        f"one state, 2 actions, uniform policy, tau's actions {acts}: rates of log pi(a_t|s_t) along "
        f"grad log pi(tau) = {rates}: pi(a_0|s) decreases although pi(tau) increases",
        "the rates sum to ||grad log pi(tau)||^2 >= 0 (the trajectory's log-likelihood rises); each action "
        "rises when tau visits each state once (tabular scores at distinct states are orthogonal): " + rc.report(),
        rc.zero,
    )
