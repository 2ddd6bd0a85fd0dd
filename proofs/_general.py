"""Proofs for every size: the matrix identities of discounted MDPs in a non-commutative ring.

The objects are non-commutative sympy symbols standing for matrices of any compatible
sizes (S states, A actions, SA = S*A):

- ``Pi`` (S, SA): the policy, ``Pi[s, (s, a)] = pi(a|s)``; ``P`` (SA, S): the dynamics;
  ``E`` (SA, S): ``E[(s, a), s] = 1``; ``e`` (S,) and ``f`` (SA,): all-ones vectors;
- ``r`` (SA,), ``mu`` (S,), written ``muT`` as a row; ``D = dPi`` a direction of the policy.

Only these facts are used, each a rewrite rule: ``Pi E = I`` and ``Pi f = e`` (rows of pi are
distributions), ``P e = f`` (rows of P are distributions), ``muT e = 1``, the Bellman
equations ``V = Pi Q``, ``Q = r + gamma P V`` and the resolvent ``Minv (I - gamma Pi P) = I``.
A proof is a chain of expansions and rewrites that ends in 0; since nothing depends on the
sizes or on the entries, the identity holds for every finite MDP (Puterman 1994, §6.1).
"""

from __future__ import annotations

import sympy as sp

from ._core import Finding, holds_if, identity

nc = dict(commutative=False)
Pi, Pi2, P, E, D, Minv, Minv2 = sp.symbols("Pi Pi' P E D Minv Minv'", **nc)
e, f, r, muT, V, V2, X, S_T, X_T = sp.symbols("e f r muT V V' X S_T X^T", **nc)
gamma = sp.Symbol("gamma", positive=True)
one = sp.Integer(1)


def rewrite(expr, rules, rounds: int = 6):
    """Expand and apply the rewrite ``rules`` (pairs ``old -> new``) until nothing changes."""
    for _ in range(rounds):
        new = sp.expand(expr)
        for old, rep in rules:
            new = sp.expand(new.subs(old, rep))
        if new == expr:
            break
        expr = new
    return expr


def Q_of(V_, Pi_=None):
    """``Q = r + gamma P V`` (Bellman)."""
    return r + gamma * P * V_


def pg_theorem():
    """d/dt J(Pi + t D) = muT Minv D Q = 1/(1-gamma) d^T D Q, with d^T = (1-gamma) muT Minv.

    Differentiating ``V = Pi (r + gamma P V)`` along ``D`` gives ``dV = D Q + gamma Pi P dV``;
    the claimed ``dV = Minv D Q`` solves it (the resolvent rule).  Returns the identity
    results (step residual, and ``muT dV`` against the score form).
    """
    dV = Minv * D * Q_of(V)
    step = rewrite(dV - D * Q_of(V) - gamma * Pi * P * dV, [(Pi * P * Minv, (Minv - 1) / gamma)])
    d_T = (1 - gamma) * muT * Minv
    score_form = rewrite(muT * dV - d_T * D * Q_of(V) / (1 - gamma), [])
    return identity(step, 0), identity(score_form, 0)


def one_step_recursion():
    """The derivative of the Bellman equation: dV - (D Q + gamma Pi P dV) has no first-order term.

    ``V(t) = (Pi + t D) Q(t)``, ``Q(t) = r + gamma P V(t)``, ``V(t) = V + t dV + O(t^2)``.
    """
    t = sp.Symbol("t")
    dV = sp.Symbol("dV", **nc)
    Vt = V + t * dV
    bellman = sp.expand(Vt - (Pi + t * D) * Q_of(Vt))
    first_order = bellman.coeff(t, 1)
    claim = dV - (D * Q_of(V) + gamma * Pi * P * dV)
    zeroth = rewrite(bellman.coeff(t, 0), [(Pi * r, V - gamma * Pi * P * V)])
    return identity(sp.expand(first_order - claim), 0), identity(zeroth, 0)


def visitation_sums_to_one():
    """(I - gamma Pi P) e = (1 - gamma) e, hence Minv e = e/(1-gamma) and d^T e = (1-gamma) muT Minv e = 1."""
    stochastic = [(P * e, f), (Pi * f, e)]
    Me = rewrite((1 - gamma * Pi * P) * e, stochastic)
    r1 = identity(Me - (1 - gamma) * e, 0)
    # Minv e = Minv (M e)/(1-gamma) = e/(1-gamma): substitute and use muT e = 1
    d_e = rewrite((1 - gamma) * muT * (e / (1 - gamma)), [(muT * e, one)])
    return r1, identity(d_e, 1)


def geometric_series():
    """Induction over T: (I - X) S_T = I - X^T with S_{T+1} = I + X S_T gives (I - X) S_{T+1} = I - X^{T+1}.

    ``X = gamma P_pi``; the hypothesis is the rule ``X S_T -> S_T - I + X^T``.  The base case
    is ``S_0 = 0``, ``X^0 = I``.  As ``||X^T|| <= gamma^T -> 0``, ``sum_t gamma^t P_pi^t = Minv``.
    """
    step = rewrite((1 - X) * (1 + X * S_T) - (1 - X * X_T), [(X * S_T, S_T - 1 + X_T)])
    base = (1 - X) * 0 - (1 - one)
    return identity(step, 0), identity(base, 0)


def advantage_mean_and_baseline():
    """E_{a~pi}[A(s,a)] = 0 (Pi A = Pi Q - Pi E V = 0) and the baseline term D E b = 0 (d(Pi E) = 0)."""
    A = Q_of(V) - E * V
    mean = rewrite(Pi * A, [(Pi * E, one), (Pi * r, V - gamma * Pi * P * V)])
    t = sp.Symbol("t")
    b = sp.Symbol("b", **nc)
    # Pi(t) E = I for every t: the t-coefficient of (Pi + t D) E b is D E b, and it must vanish
    d_PiE = sp.expand((Pi + t * D) * E * b).coeff(t, 1)
    baseline = rewrite(d_PiE, [(D * E, 0)])
    return identity(mean, 0), identity(baseline, 0)


def performance_difference():
    """V' - V = Minv' (Pi' - Pi) Q^pi: (I - gamma Pi' P)(V' - V) = (Pi' - Pi) Q (Kakade & Langford 2002, Lemma 6.1)."""
    lhs = (1 - gamma * Pi2 * P) * (V2 - V)
    rules = [(Pi2 * P * V2, (V2 - Pi2 * r) / gamma), (Pi * r, V - gamma * Pi * P * V)]
    res = rewrite(lhs - (Pi2 - Pi) * Q_of(V), rules)
    return identity(res, 0)


def cpi_mixture_difference():
    """With Pi' = Pi + alpha (G - Pi): V' - V = alpha Minv' (G Q - V), i.e. alpha/(1-gamma) E_{d'}[E_{pi_G} A]."""
    G, alpha = sp.Symbol("G", **nc), sp.Symbol("alpha", positive=True)
    mix = Pi + alpha * (G - Pi)
    pdl = Minv2 * (mix - Pi) * Q_of(V)
    claim = alpha * Minv2 * (G * Q_of(V) - V)
    res = rewrite(pdl - claim, [(Pi * r, V - gamma * Pi * P * V)])
    return identity(res, 0)


# ----------------------------------------------------------------------------- the checks
def _report(named) -> str:
    return "; ".join(f"{name}: {r.report()}" for name, r in named)


def _finding(named, scope="every S, A (non-commutative matrix ring)") -> Finding:
    return holds_if(
        all(r.zero for _, r in named),
        f"{scope} -- " + _report(named),
        next((f"{name}: residual {r.symbolic}" for name, r in named if not r.zero), None),
    )


def check_pg_theorem() -> Finding:
    """grad J . D = muT Minv D Q = 1/(1-gamma) E_{s~d}[sum_a D(s,a) Q(s,a)], D(s, a) = pi grad log pi."""
    step, score = pg_theorem()
    return _finding(
        [
            ("(I - gamma Pi P) Minv D Q = D Q (dV solves the differentiated Bellman equation)", step),
            ("muT dV = d^T D Q/(1-gamma)", score),
        ]
    )


def check_one_step() -> Finding:
    first, zeroth = one_step_recursion()
    return _finding(
        [("t-coefficient of V(t) - Pi(t) Q(t) is dV - (D Q + gamma Pi P dV)", first), ("t^0: Bellman", zeroth)]
    )


def check_visitation() -> Finding:
    me, de = visitation_sums_to_one()
    step, base = geometric_series()
    return _finding(
        [
            ("(I - gamma P_pi) e = (1-gamma) e", me),
            ("d^T e = 1", de),
            ("induction step (I-X) S_(T+1) = I - X^(T+1)", step),
            ("base T = 0", base),
        ]
    )


def check_advantage() -> Finding:
    step, score = pg_theorem()
    mean, baseline = advantage_mean_and_baseline()
    return _finding(
        [
            ("PG theorem", step),
            ("score form", score),
            ("E_pi[A] = Pi A = 0", mean),
            ("baseline term D E b = 0", baseline),
        ]
    )


def check_baseline() -> Finding:
    _, baseline = advantage_mean_and_baseline()
    return _finding([("sum_a grad pi(a|s) b(s) = (d Pi) E b = 0 since Pi E = I for every theta", baseline)])


def surrogate_gradient():
    """PPO's l(theta) = d_t^T Pi_theta A_t: l(theta_t) = 0 and its derivative along D is (1-gamma) grad J . D.

    ``d_t^T = (1-gamma) muT Minv`` (the normalised visitation of pi_t), ``A_t = Q - E V``.
    """
    A = Q_of(V) - E * V
    d_T = (1 - gamma) * muT * Minv
    bellman = [(Pi * E, one), (D * E, 0), (Pi * r, V - gamma * Pi * P * V)]
    value = rewrite(d_T * Pi * A, bellman)
    slope = rewrite(d_T * D * A - (1 - gamma) * muT * Minv * D * Q_of(V), bellman)
    return identity(value, 0), identity(slope, 0)


def check_surrogate() -> Finding:
    value, slope = surrogate_gradient()
    return _finding(
        [("l(theta_t) = d^T Pi A = 0", value), ("D-derivative d^T D A - (1-gamma) muT Minv D Q (D E = 0)", slope)]
    )


def check_cpi_difference() -> Finding:
    return _finding(
        [
            ("performance difference (I - gamma Pi' P)(V' - V) = (Pi' - Pi) Q", performance_difference()),
            ("mixture: V' - V = alpha Minv' (G Q - V)", cpi_mixture_difference()),
        ]
    )


def check_fisher_hessian() -> Finding:
    th = sp.symbols("theta0:2", real=True)
    p = sp.Function("p")(*th)
    H = sp.Matrix(2, 2, lambda j, k: sp.diff(-sp.log(p), th[j], th[k]))
    terms = sp.Matrix(2, 2, lambda j, k: -sp.diff(p, th[j], th[k]) / p + sp.diff(p, th[j]) * sp.diff(p, th[k]) / p**2)
    r_point = identity(H, terms, n=0)
    r_first = identity(p * (-sp.diff(p, th[0], th[1]) / p), -sp.diff(p, th[0], th[1]), n=0)
    return _finding(
        [
            ("Hess(-log p) = -Hess p/p + grad p grad p^T/p^2 for undefined p(theta)", r_point),
            ("p * (-Hess p / p) = -Hess p, which sums over x to -Hess 1 = 0", r_first),
        ],
        "every smooth family p_theta(x) on a finite space, any number of outcomes",
    )


def with_instance(general, instance):
    """A check that needs both the general proof and its corroboration on a concrete MDP."""

    def check() -> Finding:
        g, i = general(), instance()
        ok = g.kind == "holds" and i.kind == "holds"
        return holds_if(
            ok,
            f"general: {g.residual} || corroborated on an instance: {i.residual}",
            g.counterexample or i.counterexample,
        )

    check.__name__ = f"{general.__name__}_and_{instance.__name__}"
    check.__doc__ = f"{general.__doc__}\n\nCorroborated by: {instance.__doc__}"
    return check
