"""Exact policy evaluation in rational arithmetic: the oracle the float engine is tested against.

The quantities of :mod:`tabular_pg.exact` -- ``V, Q, A, d, d_sa, visits, J``, with the
same conventions and shapes -- computed with no rounding at all: floats are read as the
exact dyadic rationals they are (``0.1`` is :math:`3602879701896397/2^{55}`), exact
inputs (``int``, :class:`fractions.Fraction`, :class:`sympy.Rational`, strings such as
``"1/3"``) stay exact, and the linear systems are solved by LU over :math:`\\mathbb{Q}`
with :class:`sympy.polys.matrices.DomainMatrix` (practical for ``S`` up to about 30).
Results are numpy object arrays of :class:`sympy.Rational`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction
from numbers import Integral
from typing import Any, NamedTuple

import numpy as np
import sympy
from sympy import QQ
from sympy.polys.matrices import DomainMatrix
from sympy.polys.matrices.exceptions import DMNonInvertibleMatrixError

from tabular_pg._checks import check_distributions
from tabular_pg.exact.evaluation import check_feasible
from tabular_pg.mdp import FiniteMDP, reachable

_MPQ = type(QQ(0))

__all__ = ["RationalMDP", "RationalEvaluation", "evaluate", "policy_gradient_direct", "to_rational"]


# ------------------------------------------------------------ exact numbers
def _qq_scalar(x, max_denominator: int | None):
    """One number as an element of QQ; floats exactly, or snapped to ``max_denominator``."""
    if isinstance(x, sympy.Rational):
        return QQ(int(x.p), int(x.q))
    if type(x) is _MPQ:
        return x
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            raise ValueError(f"cannot convert the non-finite value {x!r} to a rational")
        f = Fraction(float(x))
        f = f if max_denominator is None else f.limit_denominator(max_denominator)
    elif isinstance(x, (Integral, Fraction, str)):
        f = Fraction(x)
    else:
        raise TypeError(f"cannot convert {type(x).__name__} {x!r} to an exact rational")
    return QQ(f.numerator, f.denominator)


def _qq(name: str, x, max_denominator: int | None = None) -> np.ndarray:
    """Array-like of numbers -> numpy object array of QQ elements (same shape)."""
    arr = np.array(x, dtype=object)
    try:
        flat = [_qq_scalar(v, max_denominator) for v in arr.reshape(-1)]
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None
    out = np.empty(arr.shape, dtype=object)
    out.reshape(-1)[:] = flat
    return out


def to_rational(x) -> np.ndarray:
    """Exact numbers -> read-only numpy object array of :class:`sympy.Rational`.

    Examples
    --------
    >>> to_rational([0.5, "1/3", 2]).tolist()
    [1/2, 1/3, 2]
    """
    q = _qq("x", x)
    out = np.empty(q.shape, dtype=object)
    out.reshape(-1)[:] = [sympy.Rational(int(v.numerator), int(v.denominator)) for v in q.reshape(-1)]
    out.setflags(write=False)
    return out


def _identity(n: int) -> np.ndarray:
    eye = np.full((n, n), QQ(0), dtype=object)
    eye[np.arange(n), np.arange(n)] = QQ(1)
    return eye


def _solve(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact solution of ``M x = b`` over QQ, ``M (n, n)``, ``b (n,)``; ValueError if singular."""
    n = M.shape[0]
    if n == 0:
        return np.empty(0, dtype=object)
    Md = DomainMatrix(M.tolist(), (n, n), QQ)
    bd = DomainMatrix([[v] for v in b], (n, 1), QQ)
    try:
        x = Md.lu_solve(bd)
    except DMNonInvertibleMatrixError as exc:
        raise ValueError(f"the linear system I - gamma P_pi is singular ({exc})") from None
    out = np.empty(n, dtype=object)
    out[:] = [row[0] for row in x.to_list()]
    return out


# ------------------------------------------------------------ the exact MDP
def _check_stochastic(name: str, probs: np.ndarray) -> None:
    """The package's distribution check (:func:`~tabular_pg._checks.check_distributions`) on exact rows."""
    sums = np.asarray(probs.sum(axis=-1), dtype=object)
    check_distributions(name, np.asarray(probs, dtype=float), sums=np.asarray(sums, dtype=float))


def _distributions(name: str, x, max_denominator: int | None) -> np.ndarray:
    """Distributions over the last axis as QQ: exact, or snapped and renormalised to sum to 1."""
    exact = _qq(name, x)
    _check_stochastic(name, exact)
    if max_denominator is None:
        return exact
    snapped = _qq(name, x, max_denominator)
    sums = np.asarray(snapped.sum(axis=-1), dtype=object)
    if any(v == 0 for v in sums.reshape(-1)):
        raise ValueError(f"{name}: a row snaps to all zeros with max_denominator={max_denominator}; use a larger one")
    return snapped / sums[..., None]


@dataclass(frozen=True, eq=False)
class RationalMDP:
    """A finite MDP with exact rational ``P (S, A, S)``, ``r (S, A)``, ``mu (S,)``, ``gamma``.

    Parameters
    ----------
    P : array_like (S, A, S)
        Transition probabilities: ints, Fractions, sympy Rationals, strings like
        ``"1/3"`` or floats (read exactly).  Rows must sum to 1 (checked within
        ``tabular_pg._checks.STOCHASTIC_ATOL``; exact inputs should sum to exactly 1 for the exact
        identities to hold).
    R : array_like (S, A) or (S, A, S)
        Rewards; ``(S, A, S)`` is reduced exactly to :math:`r(s,a) = \\sum_{s'} P r`.
    mu : array_like (S,)
    gamma : exact number in [0, 1]
    horizon : int >= 1 or None
    max_denominator : int, optional
        Snap float inputs to the nearest fraction with at most this denominator
        (``0.1 -> 1/10``), then divide the rows of ``P`` and ``mu`` by their (exact)
        sums so that they are exact distributions; exact inputs that already sum to 1
        are unchanged.

    Examples
    --------
    >>> m = RationalMDP([[["1/2", "1/2"]], [[0, 1]]], [[1], [0]], [1, 0], gamma="1/2")
    >>> m.n_states, m.n_actions, m.gamma
    (2, 1, 1/2)
    """

    P: np.ndarray
    r: np.ndarray
    mu: np.ndarray
    gamma: sympy.Rational
    horizon: int | None = None

    def __init__(self, P, R, mu, gamma, horizon: int | None = None, max_denominator: int | None = None):
        P = _distributions("P", P, max_denominator)
        if P.ndim != 3 or P.shape[0] != P.shape[2] or 0 in P.shape:
            raise ValueError(f"P must have shape (S, A, S) with S, A >= 1; got {P.shape}")
        S, A, _ = P.shape
        R = _qq("R", R, max_denominator)
        if R.shape == (S, A, S):
            R = (P * R).sum(axis=2)
        elif R.shape != (S, A):
            raise ValueError(f"R must have shape (S, A) = {(S, A)} or (S, A, S); got {R.shape}")
        mu = _distributions("mu", mu, max_denominator)
        if mu.shape != (S,):
            raise ValueError(f"mu must have shape (S,) = ({S},); got {mu.shape}")
        g = _qq("gamma", gamma, max_denominator).reshape(-1)
        if g.size != 1 or not 0 <= g[0] <= 1:
            raise ValueError(f"gamma must be one number in [0, 1]; got {gamma!r}")
        if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, Integral) or horizon < 1):
            raise ValueError(f"horizon must be None or an int >= 1; got {horizon!r}")
        for name, value in (("P", P), ("r", R), ("mu", mu)):
            object.__setattr__(self, name, to_rational(value))
        object.__setattr__(self, "gamma", sympy.Rational(int(g[0].numerator), int(g[0].denominator)))
        object.__setattr__(self, "horizon", None if horizon is None else int(horizon))

    @classmethod
    def from_mdp(cls, mdp: FiniteMDP, max_denominator: int | None = None) -> RationalMDP:
        """The exact rational copy of a float :class:`FiniteMDP` (floats read exactly).

        Examples
        --------
        >>> import numpy as np
        >>> mdp = FiniteMDP(np.ones((1, 1, 1)), [[0.1]], [1.0], gamma=0.9)
        >>> RationalMDP.from_mdp(mdp, max_denominator=100).gamma
        9/10
        """
        S, A = mdp.n_states, mdp.n_actions
        P = mdp.P_sa if isinstance(mdp.P, np.ndarray) else mdp.P.toarray()      # dense, or sparse
        return cls(P.reshape(S, A, S), mdp.R, mdp.mu, mdp.gamma, mdp.horizon, max_denominator)

    n_states = property(lambda self: self.P.shape[0])
    n_actions = property(lambda self: self.P.shape[1])

    def terminal_states(self) -> np.ndarray:
        """States with :math:`P(s|s,a) = 1` and :math:`r(s,a) = 0` for every action, exactly."""
        s = np.arange(self.n_states)
        absorbing = np.array([all(v == 1 for v in self.P[i, :, i]) for i in s], dtype=bool)
        zero = np.array([all(v == 0 for v in self.r[i]) for i in s], dtype=bool)
        return s[absorbing & zero]


# ------------------------------------------------------------ evaluation
@dataclass(frozen=True, eq=False)
class RationalEvaluation:
    """Exact evaluation of a policy: object arrays of :class:`sympy.Rational`, read-only.

    Same field names and shapes as the float engine's ``Evaluation``: infinite horizon
    ``V, d, visits (S,)``, ``Q, A, d_sa (S, A)``; finite horizon ``V, d, visits (H, S)``,
    ``Q, A, d_sa (H, S, A)``; ``J`` a :class:`sympy.Rational`.
    """

    V: np.ndarray
    Q: np.ndarray
    A: np.ndarray
    d: np.ndarray
    d_sa: np.ndarray
    visits: np.ndarray
    J: sympy.Rational

    def to_float(self) -> dict:
        """``{field: float array}`` (``J`` a float), each value rounded once from the exact one."""
        return {f.name: (float(v) if f.name == "J" else np.array(v, dtype=float))
                for f in fields(self) for v in [getattr(self, f.name)]}


class _InQQ(NamedTuple):
    """A :class:`RationalMDP` with its arrays as QQ elements (fast exact arithmetic)."""

    P: np.ndarray
    r: np.ndarray
    mu: np.ndarray
    gamma: Any              # a QQ element (sympy's domain elements have no common static type)
    horizon: int | None


def _in_qq(mdp: RationalMDP) -> _InQQ:
    gamma = QQ(int(mdp.gamma.p), int(mdp.gamma.q))
    return _InQQ(_qq("P", mdp.P), _qq("r", mdp.r), _qq("mu", mdp.mu), gamma, mdp.horizon)


def _as_rational_mdp(mdp, max_denominator) -> RationalMDP:
    if isinstance(mdp, RationalMDP):
        return mdp
    if isinstance(mdp, FiniteMDP):
        return RationalMDP.from_mdp(mdp, max_denominator)
    raise TypeError(f"mdp must be a FiniteMDP or a RationalMDP; got {type(mdp).__name__}")


def _check_policy(mdp: RationalMDP, pi, max_denominator) -> np.ndarray:
    """``pi (S, A)``, or ``(H, S, A)`` with a horizon, as QQ; validated."""
    pi = _distributions("pi", pi, max_denominator)
    shapes: list[tuple[int, ...]] = [(mdp.n_states, mdp.n_actions)]
    if mdp.horizon is not None:
        shapes.append((mdp.horizon, mdp.n_states, mdp.n_actions))
    if pi.shape not in shapes:
        raise ValueError(f"pi must have shape {' or '.join(map(str, shapes))}; got {pi.shape}")
    return pi


def _result(V, Q, d, d_sa, visits, J) -> RationalEvaluation:
    return RationalEvaluation(V=to_rational(V), Q=to_rational(Q), A=to_rational(Q - V[..., None]),
                              d=to_rational(d), d_sa=to_rational(d_sa), visits=to_rational(visits),
                              J=sympy.Rational(int(J.numerator), int(J.denominator)))


def _policy_transitions(mdp: _InQQ, pi: np.ndarray):
    """:math:`P_\\pi(s, s') = \\sum_a \\pi(a|s) P(s'|s,a)` and :math:`r_\\pi(s) = \\sum_a \\pi(a|s) r(s,a)`."""
    return (pi[:, :, None] * mdp.P).sum(axis=1), (pi * mdp.r).sum(axis=1)


def _evaluate_discounted(mdp: _InQQ, pi: np.ndarray) -> RationalEvaluation:
    """:math:`(I-\\gamma P_\\pi) V = r_\\pi`, :math:`(I-\\gamma P_\\pi)^\\top \\tilde d = \\mu`
    ("Lecture 6: The Policy Gradient")."""
    gamma = mdp.gamma
    P_pi, r_pi = _policy_transitions(mdp, pi)
    M = _identity(len(mdp.mu)) - gamma * P_pi
    V, visits = _solve(M, r_pi), _solve(M.T.copy(), mdp.mu)
    Q = mdp.r + gamma * (mdp.P @ V)
    d = (1 - gamma) * visits
    return _result(V, Q, d, d[:, None] * pi, visits, mdp.mu @ V)


def never_terminating_states(P_pi: np.ndarray, terminal: np.ndarray) -> np.ndarray:
    """States from which no state in ``terminal`` is reachable along ``P_pi > 0`` (sorted).

    Examples
    --------
    >>> P_pi = np.array([[0, 1, 0], [0, 1, 0], [0, 0, 1]])     # 0 -> 1 -> 1 forever; 2 terminal
    >>> never_terminating_states(P_pi, np.array([2])).tolist()
    [0, 1]
    """
    can_end = reachable(np.array(P_pi != 0, dtype=bool).T, terminal)
    return np.setdiff1d(np.arange(len(P_pi)), can_end)


def _evaluate_episodic(mdp: _InQQ, pi: np.ndarray, terminal: np.ndarray) -> RationalEvaluation:
    """:math:`\\gamma = 1`: solve on the non-terminal states; terminal V = 0, visits 0."""
    S = len(mdp.mu)
    if terminal.size == 0:
        raise ValueError("gamma = 1 with horizon=None needs zero-reward absorbing (terminal) states; the MDP has none")
    P_pi, r_pi = _policy_transitions(mdp, pi)
    stuck = never_terminating_states(P_pi, terminal)
    if stuck.size:
        raise ValueError(f"gamma = 1 with horizon=None: under pi the non-terminal states {stuck.tolist()} "
                         "never reach a terminal state, so their values and visits are infinite")
    T = np.setdiff1d(np.arange(S), terminal)
    M = _identity(T.size) - P_pi[np.ix_(T, T)]
    V, visits = np.full(S, QQ(0), dtype=object), np.full(S, QQ(0), dtype=object)
    V[T], visits[T] = _solve(M, r_pi[T]), _solve(M.T.copy(), mdp.mu[T])
    Q = mdp.r + mdp.P @ V
    total = visits.sum()
    d = visits / total if total != 0 else visits.copy()
    return _result(V, Q, d, d[:, None] * pi, visits, mdp.mu @ V)


def _evaluate_finite(mdp: _InQQ, pi: np.ndarray) -> RationalEvaluation:
    """Backward :math:`Q_h = r + \\gamma P V_{h+1}`, forward :math:`d_{h+1} = \\sum d_h \\pi_h P`
    ("Policy Gradient (continued)")."""
    (S, A, _), H, gamma = mdp.P.shape, mdp.horizon, mdp.gamma
    if H is None:
        raise ValueError("_evaluate_finite needs a finite horizon; got horizon=None")
    pi = np.broadcast_to(pi, (H, S, A))
    V, Q = np.empty((H, S), dtype=object), np.empty((H, S, A), dtype=object)
    V_next = np.full(S, QQ(0), dtype=object)
    for h in reversed(range(H)):
        Q[h] = mdp.r + gamma * (mdp.P @ V_next)
        V[h] = V_next = (pi[h] * Q[h]).sum(axis=1)
    d, d_sa = np.empty((H, S), dtype=object), np.empty((H, S, A), dtype=object)
    d[0] = mdp.mu
    for h in range(H):
        d_sa[h] = d[h][:, None] * pi[h]
        if h + 1 < H:
            d[h + 1] = (d_sa[h][:, :, None] * mdp.P).sum(axis=(0, 1))
    discount = np.array([gamma ** h for h in range(H)], dtype=object)
    return _result(V, Q, d, d_sa, discount[:, None] * d, mdp.mu @ V[0])


def evaluate(mdp, pi, max_denominator: int | None = None) -> RationalEvaluation:
    """Exact ``V, Q, A, d, d_sa, visits, J`` of the policy ``pi`` in ``mdp``.

    Parameters
    ----------
    mdp : FiniteMDP or RationalMDP
        A float MDP is read exactly (see :meth:`RationalMDP.from_mdp`).
    pi : array_like (S, A), or (H, S, A) with a finite horizon
        Action probabilities, floats (read exactly) or exact numbers.
    max_denominator : int, optional
        Snap float inputs (of ``mdp`` and ``pi``) to fractions with at most this
        denominator first, e.g. ``0.8, 0.1, 0.1 -> 4/5, 1/10, 1/10``, and renormalise
        the rows of ``P``, ``mu`` and ``pi`` exactly (see :class:`RationalMDP`).

    Returns
    -------
    RationalEvaluation

    Notes
    -----
    Infinite horizon ("Lecture 6: The Policy Gradient"; Agarwal et al., 2021, §3, definitions of V, Q, d):

    .. math:: V = (I - \\gamma P_\\pi)^{-1} r_\\pi, \\quad Q = r + \\gamma P V, \\quad
              \\tilde d^\\top = \\mu^\\top (I - \\gamma P_\\pi)^{-1}, \\quad d = (1-\\gamma)\\tilde d.

    With :math:`\\gamma = 1` and no horizon the systems are restricted to the
    non-terminal states; finite horizons use the backward/forward recursions of
    "Policy Gradient (continued)" (:math:`V_h, Q_h, d_h`).  Raises ``ValueError`` naming the states that
    never reach a terminal state when :math:`\\gamma = 1` and the horizon is infinite.

    Examples
    --------
    >>> m = RationalMDP([[[0, 1], ["1/2", "1/2"]], [[0, 1], [1, 0]]], [[1, 0], [0, 2]], [1, 0], gamma="1/2")
    >>> ev = evaluate(m, [["1/2", "1/2"], ["1/3", "2/3"]])
    >>> sum(ev.d), (ev.d_sa * ev.A).sum()                  # sum d = 1 and E_{d,pi}[A] = 0, exactly
    (1, 0)
    >>> bool(ev.J == (ev.d_sa * m.r).sum() / (1 - m.gamma)) # J = sum d r_pi / (1 - gamma)
    True
    """
    given, mdp = mdp, _as_rational_mdp(mdp, max_denominator)
    pi = _check_policy(mdp, pi, max_denominator)
    if isinstance(given, FiniteMDP):                     # an action mask does not survive the exact copy
        check_feasible(given, np.array(pi != 0, dtype=float))
    if mdp.horizon is not None:
        return _evaluate_finite(_in_qq(mdp), pi)
    if mdp.gamma == 1:
        return _evaluate_episodic(_in_qq(mdp), pi, mdp.terminal_states())
    return _evaluate_discounted(_in_qq(mdp), pi)


def policy_gradient_direct(mdp, pi, max_denominator: int | None = None) -> np.ndarray:
    """Exact :math:`\\partial J / \\partial \\pi(a|s) = \\tilde d(s)\\, Q(s, a)`, shape of ``pi``.

    Parameters
    ----------
    mdp : FiniteMDP or RationalMDP
    pi : array_like (S, A), or (H, S, A) with a finite horizon
    max_denominator : int, optional
        As in :func:`evaluate`.

    Returns
    -------
    numpy object array of sympy.Rational
        ``(S, A)`` for a stationary policy (summed over steps with a finite horizon:
        :math:`\\sum_h \\gamma^h d_h(s) Q_h(s,a)`), ``(H, S, A)`` for a per-step one.

    Notes
    -----
    The policy gradient theorem for the direct parameterisation, each
    :math:`\\pi(a|s)` an independent coordinate (Agarwal et al., 2021, eq. 7; Sutton et al.,
    2000, Theorem 1): :math:`\\nabla J = \\sum_s \\tilde d(s) \\sum_a
    \\nabla\\pi(a|s) Q(s,a)`.  The gradient of any parameterisation is the
    vector-Jacobian product of this with :math:`\\partial\\pi/\\partial\\theta`.

    Examples
    --------
    >>> m = RationalMDP([[[0, 1], [1, 0]], [[0, 1], [0, 1]]], [[1, 0], [0, 0]], [1, 0], gamma="1/2")
    >>> pi = to_rational([["1/4", "3/4"], ["1/2", "1/2"]])
    >>> g, ev = policy_gradient_direct(m, pi), evaluate(m, pi)
    >>> bool(((g * pi).sum(axis=1) == ev.visits * ev.V).all())   # sum_a pi dJ/dpi = d~ V
    True
    """
    rmdp = _as_rational_mdp(mdp, max_denominator)
    pi_q = _check_policy(rmdp, pi, max_denominator)
    ev = evaluate(rmdp, pi_q)
    grad = ev.visits[..., None] * ev.Q
    if rmdp.horizon is not None and pi_q.ndim == 2:
        grad = grad.sum(axis=0)
    out = np.array(grad, dtype=object)
    out.setflags(write=False)
    return out
