"""Exact evaluation of a tiny infinite-horizon discounted MDP by sympy linear solves.

Conventions (the math conventions of the package): ``J = mu^T V``; unnormalised visitation
``d~ = sum_t gamma^t P(s_t = .)`` solves ``(I - gamma P_pi)^T d~ = mu``; the normalised
visitation is ``d = (1 - gamma) d~``; ``Q = r + gamma P V``; ``A = Q - V``.

Examples
--------
>>> import sympy as sp
>>> m = discounted_mdp(seed=0)
>>> ev = evaluate(m, m.policy.pi)
>>> sp.cancel(sum(ev.d)) == 1
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

from ._symbolic import Policy, _random_distribution, softmax_policy

gamma = sp.Symbol("gamma", positive=True)


@dataclass(frozen=True)
class DiscountedMDP:
    """``P[s][a][s']`` rationals, ``r[s][a]`` symbols, ``mu[s]`` rationals, symbolic gamma."""

    S: int
    A: int
    P: tuple
    r: tuple
    mu: tuple
    gamma: sp.Expr
    policy: Policy


@dataclass(frozen=True)
class Evaluation:
    """``V (S,)``, ``Q (S, A)``, ``A (S, A)``, ``d (S,)`` normalised, ``J``, ``P_pi (S, S)``."""

    V: sp.Matrix
    Q: sp.Matrix
    A: sp.Matrix
    d: sp.Matrix
    J: sp.Expr
    P_pi: sp.Matrix


def discounted_mdp(S: int = 2, A: int = 2, seed: int = 0, rewards: str = "symbolic", g=gamma) -> DiscountedMDP:
    """Random rational dynamics; rewards symbolic ``r{s}{a}`` or random rationals (``"random"``)."""
    rng = random.Random(seed)
    P = tuple(tuple(_random_distribution(rng, S) for _ in range(A)) for _ in range(S))
    mu = _random_distribution(rng, S)
    if rewards == "random":
        r = tuple(tuple(sp.Rational(rng.randint(-9, 9), rng.randint(1, 5)) for _ in range(A)) for _ in range(S))
    else:
        r = tuple(tuple(sp.Symbol(f"r{s}{a}") for a in range(A)) for s in range(S))
    return DiscountedMDP(S, A, P, r, mu, g, softmax_policy(S, A))


def evaluate(m: DiscountedMDP, pi) -> Evaluation:
    """Solve for ``V`` and ``d`` under the policy table ``pi[s][a]`` (expressions)."""
    S, A = m.S, m.A
    P_pi = sp.Matrix(S, S, lambda s, t: sum(pi[s][a] * m.P[s][a][t] for a in range(A)))
    r_pi = sp.Matrix(S, 1, lambda s, _: sum(pi[s][a] * m.r[s][a] for a in range(A)))
    M = sp.eye(S) - m.gamma * P_pi
    V = M.LUsolve(r_pi).applyfunc(sp.cancel)
    Q = sp.Matrix(S, A, lambda s, a: m.r[s][a] + m.gamma * sum(m.P[s][a][t] * V[t] for t in range(S)))
    Adv = sp.Matrix(S, A, lambda s, a: Q[s, a] - V[s])
    d_unnorm = M.T.LUsolve(sp.Matrix(m.mu)).applyfunc(sp.cancel)
    J = sp.cancel(sum(m.mu[s] * V[s] for s in range(S)))
    return Evaluation(V, Q, Adv, (1 - m.gamma) * d_unnorm, J, P_pi)


def expect_sa(ev: Evaluation, pi, f) -> sp.Matrix:
    """``E_{s ~ d, a ~ pi}[f(s, a)]`` with the normalised visitation ``d`` of ``ev``."""
    S, A = len(pi), len(pi[0])
    terms = [ev.d[s] * pi[s][a] * f(s, a) for s in range(S) for a in range(A)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total
