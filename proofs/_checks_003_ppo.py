"""Checks of lecture 003, second part: the PPO surrogate, clipping, and the chain.

The clip/min facts are piecewise-linear in the ratio ``r``; they are checked in exact
rationals on a grid of ``(r, A, eps)`` that includes the kinks, with one-sided exact
difference quotients for the slopes.
"""
from __future__ import annotations

import itertools

import sympy as sp

from ._core import Finding, holds_if, identity
from ._discounted import discounted_mdp, evaluate, gamma
from ._symbolic import grad, softmax_policy

R = sp.Rational


def iw_typo() -> Finding:
    """Printed: E_{a~pi_t}[pi_theta(.|s)/pi_t(a|s) A]; read as a scalar, pi_theta(.|s) sums to 1."""
    pt = [R(1, 3), R(2, 3)]
    Q = [1, 0]
    V = sum(p * q for p, q in zip(pt, Q))
    A = [q - V for q in Q]
    p = [R(1, 2), R(1, 2)]
    lhs = sum(pa * Aa for pa, Aa in zip(p, A))
    printed = sum(pta * 1 / pta * Aa for pta, Aa in zip(pt, A))
    new, old = softmax_policy(1, 3, "z"), softmax_policy(1, 3, "y")
    As = sp.symbols("A0:3", real=True)
    rc = identity(sum(new.pi[0][a] * As[a] for a in range(3)),
                  sum(old.pi[0][a] * new.pi[0][a] / old.pi[0][a] * As[a] for a in range(3)))
    return Finding("erratum", f"pi_t = {pt}, A = {A}, pi_theta = {p}: E_pi_theta[A] = {lhs}, printed (pi_theta(.|s) "
                   f"read as its total mass 1) = {printed}",
                   f"pi_t = (1/3, 2/3), Q = (1, 0) so A = {A}; pi_theta = (1/2, 1/2): E_{{a~pi_theta}}[A] = {lhs} "
                   f"but E_{{a~pi_t}}[1/pi_t(a) A] = {printed}",
                   "E_{a~pi_theta(.|s)}[A(s,a)] = E_{a~pi_t(.|s)}[pi_theta(a|s)/pi_t(a|s) A(s,a)] "
                   "(generic 3-action softmaxes): " + rc.report(), rc.zero)


def surrogate_gradient() -> Finding:
    """ell(theta) = E_{s~d^t} E_{a~pi_theta}[A^t]: ell(theta_t) = 0, grad ell(theta_t) = (1-gamma) grad J(theta_t)."""
    m = discounted_mdp(seed=9)
    new, old = m.policy, softmax_policy(2, 2, "y")
    ev = evaluate(m, old.pi)
    ell = sum(ev.d[s] * sum(new.pi[s][a] * ev.A[s, a] for a in range(2)) for s in range(2))
    at = dict(zip(new.params, old.params))
    dom = {gamma: (R(1, 10), R(9, 10))}
    r0 = identity(ell.subs(at), 0, domains=dom)
    r1 = identity(grad(ell, new.params).subs(at), (1 - gamma) * grad(ev.J, old.params), domains=dom)
    return holds_if(r0.zero and r1.zero, f"ell(theta_t): {r0.report()}; grad ell(theta_t) - (1-gamma) grad J: {r1.report()} "
                    "(the 1/(1-gamma)-scaled surrogate has gradient exactly grad J)")


def _clip(r, eps):
    return min(max(r, 1 - eps), 1 + eps)


def _final(r, A, eps):
    return min(r * A, _clip(r, eps) * A)


GRID = [(r, A, e) for e in (R(1, 10), R(1, 5), R(1, 2)) for A in (R(-2), R(-1, 3), R(1, 2), R(3))
        for r in sorted({R(k, 8) for k in range(0, 25)} | {1 - e, 1 + e})]
H_STEP = R(1, 1000)


def clip_stops() -> Finding:
    """The clipped term has zero slope in r outside [1-eps, 1+eps] and slope A inside."""
    bad = [(r, A, e) for r, A, e in GRID if not (1 - e <= r < 1 + e) and (_clip(r + H_STEP, e) - _clip(r, e)) * A != 0]
    bad += [(r, A, e) for r, A, e in GRID if 1 - e <= r < 1 + e
            and (_clip(r + H_STEP, e) - _clip(r, e)) * A / H_STEP != A]
    return holds_if(not bad, f"{len(GRID)} grid points (r, A, eps), exact right difference quotients: "
                    f"{len(bad)} violations", str(bad[:3]) if bad else None)


def min_lower_bound() -> Finding:
    """min(rA, clip(r)A) <= rA always (pessimistic); the clip alone is on either side of rA."""
    above = [(r, A, e) for r, A, e in GRID if _final(r, A, e) > r * A]
    closed = [(r, A, e) for r, A, e in GRID
              if _final(r, A, e) != (min(r, 1 + e) * A if A > 0 else max(r, 1 - e) * A)]
    inside = [(r, A, e) for r, A, e in GRID if 1 - e <= r <= 1 + e and _final(r, A, e) != r * A]
    clip_up = next((r, A, e) for r, A, e in GRID if _clip(r, e) * A > r * A)
    clip_down = next((r, A, e) for r, A, e in GRID if _clip(r, e) * A < r * A)
    stop = [(r, A, e) for r, A, e in GRID if (_final(r + H_STEP, A, e) - _final(r, A, e)) == 0
            and not ((A > 0 and r >= 1 + e) or (A < 0 and r < 1 - e))]
    ok = not (above or closed or inside or stop)
    return holds_if(ok, f"{len(GRID)} exact grid points: final > unclipped at {len(above)}; closed form "
                    f"min(r,1+eps)A (A>0) / max(r,1-eps)A (A<0) fails at {len(closed)}; final != rA inside the "
                    f"band at {len(inside)}; zero slope off the 'improving side' at {len(stop)}. The clip alone is "
                    f"not a bound: clip(r)A > rA at (r, A, eps) = {clip_up}, < rA at {clip_down}")


def _chain_hit(H):
    """P(reach the right end within H steps) for the uniform policy on the 3-action chain."""
    dist = {0: sp.Integer(1)}
    for _ in range(H):
        new = {}
        for s, p in dist.items():
            for nxt in (min(s + 1, H), s, max(s - 1, 0)):  # right, stay, left
                new[nxt] = new.get(nxt, 0) + p / 3
        dist = new
    return dist.get(H, 0)


def chain_hitting() -> Finding:
    rows = [(H, _chain_hit(H)) for H in range(1, 9)]
    ok = all(p == R(1, 3) ** H for H, p in rows)
    printed = [(H, R(1, 3) ** (-H)) for H in range(1, 4)]
    return Finding("erratum" if ok else "holds",
                   "exact P(hit) on the chain (actions right/stay/left, uniform, horizon H): "
                   + ", ".join(f"H={H}: {p}" for H, p in rows),
                   f"H=1: the hitting probability is {rows[0][1]}; printed (1/3)^(-H) = {printed[0][1]} > 1 "
                   f"(not a probability); H=2: {rows[1][1]} vs {printed[1][1]}",
                   "P(hit) = (1/3)^H = 3^(-H)", ok)


def empirical_pg_zero() -> Finding:
    """Missed trajectories have R = 0 so their g = 0; P(some hit in N) = 1-(1-3^-H)^N <= N 3^-H."""
    H = 3
    hits = [acts for acts in itertools.product(range(3), repeat=H) if all(a == 0 for a in acts)]
    zero_g = 3**H - len(hits)  # every other action sequence has R = 0, hence g = 0
    bound = all(1 - (1 - R(1, 3**h)) ** n <= n * R(1, 3**h) for h in range(1, 9) for n in range(1, 30))
    return holds_if(len(hits) == 1 and bound,
                    f"H={H}: {zero_g} of {3**H} action sequences miss (R=0, g=0); "
                    "1-(1-3^-H)^N <= N 3^-H for H<=8, N<30 (Bernoulli): so N must be of order 3^H")
