"""The exact Hessian of J (tabular_pg.exact.hessian) against three independent computations.

* Central differences of ``policy_gradient``: truncation error O(eps^2 |D^3 J|) plus round-off
  O(1e-16 |g| / eps); with eps = 1e-5 both are ~1e-10 of the Hessian's scale on these small
  MDPs, so 1e-7 relative is the brief's bound with a margin of 100 (measured: 1e-10 .. 1e-9).
* Symbolic differentiation in exact rational arithmetic (sympy): J as a rational function of
  the action probabilities, differentiated twice and evaluated at a rational policy; the
  float Hessian agrees to 1e-10 relative (the only error is float rounding).
* Symmetry, and the product against the matrix (1e-12 relative).
"""
import numpy as np
import pytest
import sympy
from conftest import episodic_mdp, random_mdp

import mdps
import tabular_pg as tpg
from tabular_pg.exact import hessian as hessian_module
from tabular_pg.exact.hessian import hessian, hessian_vector_product


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def tangent(rng, S, A, k):
    """``k`` random directions with sum_a v(s, a) = 0 (the tangent space of the simplices)."""
    U = rng.normal(size=(S, A, k))
    return (U - U.mean(axis=1, keepdims=True)).reshape(S * A, k)


def central_difference(mdp, policy, theta, directions, eps=1e-5):
    """Columns (grad J(theta + eps v) - grad J(theta - eps v)) / (2 eps), one per direction."""
    return np.stack([(tpg.policy_gradient(mdp, policy, theta + eps * v)
                      - tpg.policy_gradient(mdp, policy, theta - eps * v)) / (2 * eps) for v in directions.T], axis=1)


def setting(name, rng):
    """(mdp, policy, theta) of one test case: every parameterisation on every kind of objective."""
    S, A = 5, 3
    mdp = {"discounted": lambda: random_mdp(rng, S, A, gamma=0.9),
           "sparse": lambda: random_mdp(rng, S, A, gamma=0.8, sparse=True, branching=2),
           "finite": lambda: random_mdp(rng, S, A, gamma=0.95, horizon=4),
           "episodic": lambda: episodic_mdp(rng, S, A)}[name.split("-")[0]]()
    policy = {"softmax": lambda: tpg.TabularSoftmax(S, A),
              "perstep": lambda: tpg.TabularSoftmax(S, A, horizon=mdp.horizon),
              "loglinear": lambda: tpg.LogLinear(rng.normal(size=(S, A, 4))),
              "direct": lambda: tpg.Direct(S, A)}[name.split("-")[1]]()
    if isinstance(policy, tpg.Direct):
        theta = rng.dirichlet(np.ones(A), size=S).reshape(-1)
    else:
        theta = rng.normal(size=policy.n_params)
    return mdp, policy, theta


CASES = [f"{m}-{p}" for m in ("discounted", "sparse", "finite", "episodic")
         for p in ("softmax", "loglinear", "direct")] + ["finite-perstep"]


@pytest.mark.parametrize("case", CASES)
def test_hessian_matches_central_differences_of_the_gradient(rng, case):
    mdp, policy, theta = setting(case, rng)
    H = hessian(mdp, policy, theta)
    if isinstance(policy, tpg.Direct):       # only tangent directions keep theta a policy
        U = tangent(rng, policy.n_states, policy.n_actions, 6)
        assert rel(U.T @ central_difference(mdp, policy, theta, U), U.T @ H @ U) < 1e-7
    else:
        assert rel(central_difference(mdp, policy, theta, np.eye(policy.n_params)), H) < 1e-7


@pytest.mark.parametrize("case", CASES)
def test_hessian_is_symmetric_and_the_product_is_the_matrix_times_v(rng, case):
    mdp, policy, theta = setting(case, rng)
    H = hessian(mdp, policy, theta)
    assert np.abs(H - H.T).max() <= 1e-12 * np.abs(H).max()
    v = rng.normal(size=policy.n_params)
    assert rel(hessian_vector_product(mdp, policy, theta, v), H @ v) <= 1e-12


def test_softmax_null_space_and_direct_normal_space(rng):
    """Adding a constant to one state's logits (softmax), or leaving the simplices (Direct), does not change J."""
    mdp, policy, theta = setting("discounted-softmax", rng)
    shift = np.repeat(np.eye(5), 3, axis=1)                 # (S, S*A): one state's logits + 1
    assert np.abs(hessian(mdp, policy, theta) @ shift.T).max() <= 1e-12 * np.abs(hessian(mdp, policy, theta)).max()
    mdp, policy, theta = setting("discounted-direct", rng)
    assert np.abs(hessian(mdp, policy, theta) @ shift.T).max() <= 1e-14


# ------------------------------------------------------------ the rational oracle
def symbolic_J(P, r, mu, gamma, horizon, p):
    """J as a sympy expression of the action probabilities ``p (S, A)`` (symbols), exact."""
    S, A = r.shape
    P_pi = sympy.Matrix(S, S, lambda s, t: sum(p[s, a] * P[s, a, t] for a in range(A)))
    r_pi = sympy.Matrix(S, 1, lambda s, _: sum(p[s, a] * r[s, a] for a in range(A)))
    mu = sympy.Matrix(1, S, list(mu))
    if horizon is not None:
        return sum((gamma ** h * mu * P_pi ** h * r_pi)[0] for h in range(horizon))
    terminal = [s for s in range(S) if (P[s, :, s] == 1).all() and not any(r[s])]
    keep = [s for s in range(S) if gamma != 1 or s not in terminal]
    M = sympy.eye(len(keep)) - gamma * P_pi.extract(keep, keep)
    return (mu.extract([0], keep) * M.LUsolve(r_pi.extract(keep, [0])))[0]


def exact_hessians(P, r, mu, gamma, horizon, pi):
    """Exact (gradient, Hessian) of J with respect to the probabilities, at the rational policy ``pi``."""
    S, A = r.shape
    p = sympy.Matrix(S, A, lambda s, a: sympy.Symbol(f"p{s}_{a}"))
    J = symbolic_J(P, r, mu, gamma, horizon, p)
    flat = list(p)
    at = dict(zip(flat, pi.reshape(-1)))
    g = np.array([sympy.diff(J, x).subs(at) for x in flat], dtype=object)
    H = np.array(sympy.hessian(J, flat).subs(at), dtype=object)
    return g, H


def softmax_chain_rule(g, H_p, pi):
    """Exact Hessian in the logits: J_s^T H_p J_s + sum_(s,a) g(s,a) grad^2 pi(a|s) (per-state softmax)."""
    S, A = pi.shape
    Js = np.zeros((S * A, S * A), dtype=object)
    curv = np.zeros((S * A, S * A), dtype=object)
    delta = lambda i, j: 1 if i == j else 0            # noqa: E731
    for s in range(S):
        for a in range(A):
            for b in range(A):
                Js[s * A + a, s * A + b] = pi[s, a] * (delta(a, b) - pi[s, b])
                for c in range(A):
                    d2 = pi[s, a] * ((delta(a, c) - pi[s, c]) * (delta(a, b) - pi[s, b])
                                     - pi[s, b] * (delta(b, c) - pi[s, c]))
                    curv[s * A + b, s * A + c] += g[s * A + a] * d2
    return Js.T.dot(H_p).dot(Js) + curv


RATIONAL_MDPS = {
    "discounted": (None, sympy.Rational(1, 2)),
    "finite": (3, sympy.Rational(9, 10)),
    "episodic": (None, sympy.Integer(1)),
}


@pytest.mark.parametrize("kind", sorted(RATIONAL_MDPS))
def test_hessian_equals_symbolic_differentiation_in_rationals(kind):
    horizon, gamma = RATIONAL_MDPS[kind]
    half, third = sympy.Rational(1, 2), sympy.Rational(1, 3)
    P = np.array([[[half, half, 0], [0, third, 2 * third]],
                  [[third, 0, 2 * third], [half, 0, half]],
                  [[0, 0, 1], [0, 0, 1]]], dtype=object)
    r = np.array([[1, sympy.Rational(-1, 4)], [sympy.Rational(3, 2), 0], [0, 0]], dtype=object)
    mu = np.array([half, half, 0], dtype=object)
    pi = np.array([[sympy.Rational(1, 4), sympy.Rational(3, 4)], [third, 2 * third], [half, half]], dtype=object)
    g, H_p = exact_hessians(P, r, mu, gamma, horizon, pi)
    mdp = tpg.FiniteMDP(P.astype(float), r.astype(float), mu.astype(float), gamma=float(gamma), horizon=horizon)
    # Direct: the exact Hessian projected on the tangent space of the simplices
    Pi = np.kron(np.eye(3), np.eye(2) - 0.5)
    H_direct = np.array(H_p, dtype=float)
    assert rel(hessian(mdp, tpg.Direct(3, 2), pi.astype(float).reshape(-1)), Pi @ H_direct @ Pi) < 1e-10
    # Tabular softmax at theta = log pi (float rounding of theta only)
    H_theta = np.array(softmax_chain_rule(g, H_p, pi), dtype=float)
    theta = np.log(pi.astype(float)).reshape(-1)
    assert rel(hessian(mdp, tpg.TabularSoftmax(3, 2), theta), H_theta) < 1e-10


# ------------------------------------------------------------ cost and input checks
def test_a_product_costs_two_solves_whatever_d(rng, monkeypatch):
    """One factorisation and two solves (V-dot, and the transposed visitation-dot) per product."""
    calls = {"factorize": 0, "solve": 0}
    real_factorize = hessian_module.factorize

    def counting_factorize(*args, **kwargs):
        calls["factorize"] += 1
        fac = real_factorize(*args, **kwargs)
        real_solve = fac.solve

        def counting_solve(*a, **k):
            calls["solve"] += 1
            return real_solve(*a, **k)
        object.__setattr__(fac, "solve", counting_solve)
        return fac
    monkeypatch.setattr(hessian_module, "factorize", counting_factorize)
    mdp = mdps.garnet(400, 5, 3, seed=0, gamma=0.95)
    policy = tpg.TabularSoftmax(400, 5)
    ev = tpg.evaluate(mdp, policy.probs(np.zeros(2000)))
    hessian_vector_product(mdp, policy, np.zeros(2000), rng.normal(size=2000), evaluation=ev)
    assert calls == {"factorize": 1, "solve": 2}


def test_bad_input_is_refused_with_a_clear_error(rng):
    mdp, policy, theta = setting("discounted-softmax", rng)
    with pytest.raises(ValueError, match="v must have shape"):
        hessian_vector_product(mdp, policy, theta, np.ones(3))
    with pytest.raises(ValueError, match="v must be finite"):
        hessian_vector_product(mdp, policy, theta, np.full(15, np.nan))
    with pytest.raises(TypeError, match="evaluation must be"):
        hessian(mdp, policy, theta, evaluation="ev")
    with pytest.raises(TypeError, match="TabularSoftmax, LogLinear and Direct"):
        hessian_vector_product(mdp, _Unknown(5, 3), theta, theta)


class _Unknown(tpg.Policy):
    """A parameterisation the Hessian does not know."""

    def __init__(self, S, A):
        self.n_states, self.n_actions, self._inner = S, A, tpg.TabularSoftmax(S, A)

    n_params = property(lambda self: self._inner.n_params)
    initial = lambda self: self._inner.initial()              # noqa: E731
    probs = lambda self, theta: self._inner.probs(theta)       # noqa: E731
    score = lambda self, theta: self._inner.score(theta)       # noqa: E731
    vjp = lambda self, theta, W: self._inner.vjp(theta, W)     # noqa: E731


def test_the_product_on_a_large_sparse_garnet_uses_gmres_and_matches_central_differences(rng):
    """S = 3,000 > DENSE_MAX: the matrix-free GMRES path, against a central difference along v (1e-7)."""
    mdp = mdps.garnet(3000, 3, 3, seed=1, gamma=0.95, sparse=True)
    policy = tpg.TabularSoftmax(3000, 3)
    theta, v = rng.normal(size=9000), rng.normal(size=9000)
    hv = hessian_vector_product(mdp, policy, theta, v)
    assert rel(central_difference(mdp, policy, theta, v[:, None])[:, 0], hv) < 1e-7
