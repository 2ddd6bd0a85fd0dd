"""Checks of "Policy Gradient (continued)", second part: the PPO surrogate, clipping, and the chain.

The clip/min facts are piecewise-linear in the ratio ``r``; they are checked in exact
rationals on a grid of ``(r, A, eps)`` that includes the kinks, with one-sided exact
difference quotients for the slopes.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._core import Finding, holds_if, identity
from ._symbolic import softmax_policy

R = sp.Rational


def iw_typo(n: int = 2) -> Finding:
    """Printed: E_{a~pi_t}[pi_theta(.|s)/pi_t(a|s) A]; pi_theta(.|s) does not depend on a (read as its mass 1).

    One state, ``n`` actions, pi_t proportional to (1, 2, ..., n), Q = e_1, pi_theta uniform: the
    printed right side is sum_a A(a), against E_{a~pi_theta}[A].
    """
    pt = [R(k, n * (n + 1) // 2) for k in range(1, n + 1)]
    p, Q = [R(1, n)] * n, [1] + [0] * (n - 1)
    V = sum(a * b for a, b in zip(pt, Q))
    A = [q - V for q in Q]
    lhs = sum(pa * Aa for pa, Aa in zip(p, A))
    printed = sum(pta * 1 / pta * Aa for pta, Aa in zip(pt, A))  # pi_theta(.|s) has mass 1
    r = identity(printed, lhs)
    new, old = softmax_policy(1, n, "z"), softmax_policy(1, n, "y")
    As = sp.symbols(f"A0:{n}", real=True)
    rc = identity(
        sum(new.pi[0][a] * As[a] for a in range(n)),
        sum(old.pi[0][a] * new.pi[0][a] / old.pi[0][a] * As[a] for a in range(n)),
    )
    return Finding(
        "holds" if r.zero else "erratum",
        f"{n} actions: printed IW line - E_{{pi_theta}}[A]: " + r.report(),
        f"pi_t = {tuple(pt)}, Q = {tuple(Q)} so A = {A}; pi_theta uniform: E_{{a~pi_theta}}[A] = {lhs} "
        f"but E_{{a~pi_t}}[pi_theta(.|s)/pi_t(a|s) A] = {printed}",
        "E_{a~pi_theta(.|s)}[A(s,a)] = E_{a~pi_t(.|s)}[pi_theta(a|s)/pi_t(a|s) A(s,a)] "
        f"(generic {n}-action softmaxes): " + rc.report(),
        rc.zero,
    )


def _clip(r, eps):
    return min(max(r, 1 - eps), 1 + eps)


def _final(r, A, eps):
    return min(r * A, _clip(r, eps) * A)


GRID = [
    (r, A, e)
    for e in (R(1, 10), R(1, 5), R(1, 2))
    for A in (R(-2), R(-1, 3), R(1, 2), R(3))
    for r in sorted({R(k, 8) for k in range(0, 25)} | {1 - e, 1 + e})
]
H_STEP = R(1, 1000)


def clip_stops() -> Finding:
    """The clipped term has zero slope in r outside [1-eps, 1+eps] and slope A inside."""
    bad = [(r, A, e) for r, A, e in GRID if not (1 - e <= r < 1 + e) and (_clip(r + H_STEP, e) - _clip(r, e)) * A != 0]
    bad += [
        (r, A, e) for r, A, e in GRID if 1 - e <= r < 1 + e and (_clip(r + H_STEP, e) - _clip(r, e)) * A / H_STEP != A
    ]
    r = identity(sp.Integer(len(bad)), 0)
    return holds_if(
        r.zero,
        f"{len(GRID)} grid points (r, A, eps), exact right difference quotients: {len(bad)} violations",
        str(bad[:3]) if bad else None,
    )


def min_lower_bound() -> Finding:
    """min(rA, clip(r)A) <= rA always (pessimistic); the clip alone is on either side of rA."""
    above = [(r, A, e) for r, A, e in GRID if _final(r, A, e) > r * A]
    closed = [(r, A, e) for r, A, e in GRID if _final(r, A, e) != (min(r, 1 + e) * A if A > 0 else max(r, 1 - e) * A)]
    inside = [(r, A, e) for r, A, e in GRID if 1 - e <= r <= 1 + e and _final(r, A, e) != r * A]
    clip_up = next((r, A, e) for r, A, e in GRID if _clip(r, e) * A > r * A)
    clip_down = next((r, A, e) for r, A, e in GRID if _clip(r, e) * A < r * A)
    stop = [
        (r, A, e)
        for r, A, e in GRID
        if (_final(r + H_STEP, A, e) - _final(r, A, e)) == 0 and not ((A > 0 and r >= 1 + e) or (A < 0 and r < 1 - e))
    ]
    r = identity(sp.Integer(len(above) + len(closed) + len(inside) + len(stop)), 0)
    return holds_if(
        r.zero,
        f"{len(GRID)} exact grid points: final > unclipped at {len(above)}; closed form "
        f"min(r,1+eps)A (A>0) / max(r,1-eps)A (A<0) fails at {len(closed)}; final != rA inside the "
        f"band at {len(inside)}; zero slope off the 'improving side' at {len(stop)}. The clip alone is "
        f"not a bound: clip(r)A > rA at (r, A, eps) = {clip_up}, < rA at {clip_down}",
    )


def chain_hit(H: int, moves=(1, 0, -1), start: int = 0) -> sp.Rational:
    """P(reach the right end, state H, within H steps) from ``start`` under the uniform policy.

    ``moves``: the displacement of each action (default right/stay/left, the lecture's chain;
    ``(1, -1)`` is the 2-action chain).  Exact rationals by propagating the distribution.
    """
    dist = {start: sp.Integer(1)}
    for _ in range(H):
        new: dict = {}
        for s, p in dist.items():
            for step in moves:
                nxt = s if s == H else min(max(s + step, 0), H)
                new[nxt] = new.get(nxt, 0) + p / len(moves)
        dist = new
    return dist.get(H, sp.Integer(0))


HS = range(1, 7)


def chain_hitting() -> Finding:
    """The printed (1/3)^(-H) against the exact hitting probability, on the 3- and 2-action chains."""
    printed = [R(1, 3) ** (-H) for H in HS]
    exact3 = [chain_hit(H) for H in HS]
    exact2 = [chain_hit(H, (1, -1)) for H in HS]
    r = identity(sp.Matrix(printed + printed), sp.Matrix(exact3 + exact2))
    rc = identity(sp.Matrix(exact3 + exact2), sp.Matrix([R(1, 3) ** H for H in HS] + [R(1, 2) ** H for H in HS]))
    return Finding(
        "holds" if r.zero else "erratum",
        "printed (1/3)^(-H) - exact P(hit), H = 1..6, 3-action then 2-action chain: " + r.report(),
        f"3 actions: H=1: P(hit) = {exact3[0]}, printed {printed[0]} > 1 (not a probability); H=2: {exact3[1]} "
        f"vs {printed[1]}; 2 actions (right/left): H=2: {exact2[1]} vs {printed[1]}",
        "P(hit) = (1/|A|)^H: (1/3)^H = 3^(-H) on the lecture's 3-action chain, (1/2)^H with 2 actions: " + rc.report(),
        rc.zero,
    )


def _chain_estimator(H: int):
    """REINFORCE's g(tau) = (sum_h grad log pi(a_h|s_h)) R(tau) for every action sequence of the chain.

    Tabular softmax at theta = 0 (uniform), 3 actions (right, stay, left), reward 1 on reaching
    the right end; returns ``[(prob, R, g)]`` with exact rationals.
    """
    states = range(H + 1)
    pi = [R(1, 3)] * 3
    rows = []
    for acts in itertools.product(range(3), repeat=H):
        s, g, Rt = 0, sp.zeros(3 * (H + 1), 1), 0
        for a in acts:
            for b in range(3):
                g[3 * s + b] += (1 if a == b else 0) - pi[b]
            s = s if s == H else min(max(s + (1, 0, -1)[a], 0), H)
            Rt = 1 if s == H else Rt
        rows.append((R(1, 3**H), Rt, g * Rt))
    assert len(rows) == 3**H and max(states) == H
    return rows


def empirical_pg_zero() -> Finding:
    """g(tau) = 0 on every trajectory that misses the reward, so the N-sample average is 0 w.p. (1 - 3^-H)^N."""
    rows, ok, lines = {H: _chain_estimator(H) for H in (2, 3, 4)}, True, []
    for H, rs in rows.items():
        p_nonzero = sum(p for p, _, g in rs if any(x != 0 for x in g))
        r = identity(p_nonzero, chain_hit(H))
        ok &= r.zero
        n_half = sp.ceiling(sp.log(2) / -sp.log(1 - p_nonzero))
        lines.append(f"H={H}: P(g != 0) = {p_nonzero}; N for P(some g != 0) >= 1/2: {n_half}")
    return holds_if(
        ok,
        "exact REINFORCE estimator on every action sequence (uniform softmax): g = 0 exactly when "
        "the reward is missed; P(g != 0) - P(hit): "
        + r.report()
        + "; "
        + "; ".join(lines)
        + " (N grows like ln2 * 3^H)",
    )
