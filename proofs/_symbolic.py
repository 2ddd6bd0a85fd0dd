"""Tiny symbolic MDPs: tabular softmax policies, trajectory spaces, exact evaluation.

Softmax parameters.  The policy is ``pi(a|s) = exp(theta_sa) / sum_b exp(theta_sb)``.
We carry ``z_sa = exp(theta_sa)`` as positive symbols, so every quantity is a rational
function of ``z`` (``cancel`` then decides identities exactly) and ``d/dtheta_sa`` is
``z_sa * d/dz_sa`` (:func:`grad`).  Substituting a rational ``z`` is choosing
``theta = log z``.

Finite horizon (shapes as lists): ``P[s][a][s']``, ``r[s][a]``, ``mu[s]``; a trajectory is
``(s_0, a_0, ..., s_{H-1}, a_{H-1})`` with probability
``mu(s_0) prod_t pi(a_t|s_t) prod_{t<H-1} P(s_{t+1}|s_t, a_t)``.

Examples
--------
>>> m = finite_mdp(S=2, A=2, H=2, seed=0)
>>> sum(t.prob for t in trajectories(m)).simplify()
1
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from functools import cache

import sympy as sp

from ._core import random_rational


@dataclass(frozen=True)
class Policy:
    """Tabular softmax policy: ``z`` (S, A) positive symbols, ``pi`` (S, A) expressions."""

    z: tuple
    pi: tuple

    @property
    def params(self) -> list:
        """The parameters, flattened in (s, a) order."""
        return [z for row in self.z for z in row]


def softmax_policy(S: int, A: int, name: str = "z") -> Policy:
    """Symbolic tabular softmax over ``S`` states and ``A`` actions (``z = exp(theta)``)."""
    z = tuple(tuple(sp.Symbol(f"{name}{s}{a}", positive=True) for a in range(A)) for s in range(S))
    pi = tuple(tuple(zsa / sum(row) for zsa in row) for row in z)
    return Policy(z, pi)


def grad(expr, params) -> sp.Matrix:
    """``d expr / d theta`` as a column, with ``theta = log z`` (so ``z d/dz``)."""
    return sp.Matrix([p * sp.diff(expr, p) for p in params])


@cache
def score(policy: Policy, s: int, a: int) -> sp.ImmutableMatrix:
    """``grad log pi(a|s)`` for the tabular softmax: ``e_(s,a) - pi(.|s)`` on state ``s`` (cached, immutable)."""
    return sp.ImmutableMatrix(grad(sp.log(policy.pi[s][a]), policy.params).applyfunc(sp.cancel))


@dataclass(frozen=True)
class FiniteMDP:
    """Symbolic finite-horizon MDP (lists of expressions), discount ``gamma``."""

    S: int
    A: int
    H: int
    P: tuple
    r: tuple
    mu: tuple
    gamma: sp.Expr
    policy: Policy


def _random_distribution(rng: random.Random, n: int) -> tuple:
    w = [random_rational(rng, sp.Rational(1, 7), 1) for _ in range(n)]
    return tuple(x / sum(w) for x in w)


def symbolic_dynamics(S: int, A: int) -> tuple:
    """Transition symbols ``p{s}{a}{s'}`` with the last next-state taking the remainder."""
    P = []
    for s in range(S):
        row = []
        for a in range(A):
            ps = [sp.Symbol(f"p{s}{a}{t}", positive=True) for t in range(S - 1)]
            row.append(tuple(ps) + (1 - sum(ps),))
        P.append(tuple(row))
    return tuple(P)


def finite_mdp(S=2, A=2, H=2, seed=0, gamma=1, dynamics="random", rewards="symbolic") -> FiniteMDP:
    """A finite-horizon MDP with symbolic rewards ``r{s}{a}`` and a symbolic softmax policy.

    ``dynamics="random"``: exact random rational transitions and start distribution;
    ``"symbolic"``: transitions are symbols (start distribution symbols ``m{s}``).
    ``rewards="one"`` sets every reward to 1.
    """
    rng = random.Random(seed)
    if dynamics == "symbolic":
        P = symbolic_dynamics(S, A)
        ms = [sp.Symbol(f"m{s}", positive=True) for s in range(S - 1)]
        mu = tuple(ms) + (1 - sum(ms),)
    else:
        P = tuple(tuple(_random_distribution(rng, S) for _ in range(A)) for _ in range(S))
        mu = _random_distribution(rng, S)
    if rewards == "one":
        r = tuple(tuple(sp.Integer(1) for _ in range(A)) for _ in range(S))
    else:
        r = tuple(tuple(sp.Symbol(f"r{s}{a}") for a in range(A)) for s in range(S))
    return FiniteMDP(S, A, H, P, r, mu, sp.sympify(gamma), softmax_policy(S, A))


@dataclass(frozen=True)
class Trajectory:
    """States ``(H,)``, actions ``(H,)``, probability, and the dynamics factor alone."""

    states: tuple
    actions: tuple
    prob: sp.Expr
    dynamics: sp.Expr


def trajectories(m: FiniteMDP, policy: Policy | None = None, final_state: bool = False) -> list:
    """Every trajectory of length ``H`` with its exact probability under ``policy``.

    ``final_state=True`` appends ``s_H`` (and the factor ``P(s_H|s_{H-1}, a_{H-1})``).
    """
    pi = (policy or m.policy).pi
    out = []
    n_trans = m.H if final_state else m.H - 1
    for states in itertools.product(range(m.S), repeat=n_trans + 1):
        dyn = m.mu[states[0]]
        for actions in itertools.product(range(m.A), repeat=m.H):
            d = dyn * sp.Mul(*[m.P[states[t]][actions[t]][states[t + 1]] for t in range(n_trans)])
            pol = sp.Mul(*[pi[s][a] for s, a in zip(states, actions)])
            out.append(Trajectory(states, actions, d * pol, d))
    return out


def expectation(f, trajs) -> sp.Expr:
    """``sum_tau p(tau) f(tau)`` (``f`` may return a Matrix)."""
    terms = [t.prob * f(t) for t in trajs]
    total = terms[0]
    for x in terms[1:]:
        total = total + x
    return total


def rewards(m: FiniteMDP, t: Trajectory) -> list:
    """Discounted rewards ``gamma^h r(s_h, a_h)`` along ``t``."""
    return [m.gamma**h * m.r[s][a] for h, (s, a) in enumerate(zip(t.states, t.actions))]


def total_return(m: FiniteMDP, t: Trajectory) -> sp.Expr:
    """``R(tau) = sum_h gamma^h r(s_h, a_h)``."""
    return sum(rewards(m, t))


def objective(m: FiniteMDP, policy: Policy | None = None) -> sp.Expr:
    """``J = E[R(tau)]`` summed exactly over the trajectory space."""
    return expectation(lambda t: total_return(m, t), trajectories(m, policy))


def trajectory_score(m: FiniteMDP, t: Trajectory, upto: int | None = None) -> sp.Matrix:
    """``sum_{h < upto} grad log pi(a_h|s_h)`` (default: the whole trajectory)."""
    pol = m.policy
    hs = range(m.H if upto is None else upto)
    out = sp.zeros(len(pol.params), 1)
    for h in hs:
        out += score(pol, t.states[h], t.actions[h])
    return out


def rand_policy_point(policy: Policy, seed: int) -> dict:
    """Random rational values of the softmax variables (``theta = log z``)."""
    rng = random.Random(seed)
    return {z: random_rational(rng, sp.Rational(1, 4), 3) for z in policy.params}
