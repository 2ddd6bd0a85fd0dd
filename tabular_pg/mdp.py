"""Finite MDPs: the frozen container, its validation and its structure queries.

A :class:`FiniteMDP` holds transitions ``P`` (dense ``(S, A, S)`` or sparse ``(S*A, S)``),
expected rewards ``r (S, A)``, the start distribution ``mu (S,)``, the discount ``gamma``
and an optional finite ``horizon``.  The objective it defines is

.. math:: J(\\pi) = \\mathbb{E}\\Big[\\sum_{t=0}^{H-1} \\gamma^t r(s_t, a_t)\\Big],
          \\quad s_0 \\sim \\mu,

with ``H = horizon`` (``None`` for an infinite horizon), as in lecture 000 eq. (1).
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp

#: Rows of ``P`` and ``mu`` must sum to 1 within this absolute tolerance.
STOCHASTIC_ATOL = 1e-9
_ComplexWarning = np.exceptions.ComplexWarning if hasattr(np, "exceptions") else np.ComplexWarning

__all__ = ["FiniteMDP", "STOCHASTIC_ATOL"]


def _readonly(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=float, copy=True)
    x.setflags(write=False)
    return x


def _as_float_array(name: str, x) -> np.ndarray:
    """``x`` as a float array; TypeError for complex numbers, strings and other non-real values.

    Complex input would lose its imaginary part and strings would be parsed, both silently,
    so neither is converted.
    """
    raw = np.asarray(x) if not sp.issparse(x) else None
    if raw is not None and raw.dtype.kind == "O" and any(v is None for v in raw.reshape(-1)):
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__} holding None")
    if raw is None or raw.dtype.kind not in "biufO":
        found = type(x).__name__ if raw is None else f"{type(x).__name__} of dtype {raw.dtype}"
        raise TypeError(f"{name} must be an array of real numbers; got {found}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _ComplexWarning)
            arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError, _ComplexWarning) as exc:
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__} ({exc})") from None
    return arr


def _check_real_sparse(name: str, M) -> None:
    if M.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got a sparse matrix of dtype {M.dtype}")


def _check_finite(name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite; found {arr[idx]} at index {idx}")


def _check_nonnegative(name: str, arr: np.ndarray) -> None:
    neg = arr < 0
    if neg.any():
        idx = tuple(int(i) for i in np.argwhere(neg)[0])
        raise ValueError(f"{name} must be non-negative; found {arr[idx]} at index {idx}")


def _check_rows_sum_to_one(name: str, sums: np.ndarray, n_actions: int) -> None:
    off = np.abs(sums - 1.0) > STOCHASTIC_ATOL
    if off.any():
        row = int(np.flatnonzero(off)[0])
        s, a = divmod(row, n_actions)
        raise ValueError(
            f"{name} rows must sum to 1 (within {STOCHASTIC_ATOL:g}); "
            f"row (s={s}, a={a}) sums to {float(sums[row])!r} ({int(off.sum())} such rows)"
        )


def _validate_dense_P(P: np.ndarray) -> np.ndarray:
    if P.ndim != 3 or P.shape[0] != P.shape[2] or P.shape[0] == 0 or P.shape[1] == 0:
        raise ValueError(f"P must have shape (S, A, S) with S, A >= 1; got shape {P.shape}")
    _check_finite("P", P)
    _check_nonnegative("P", P)
    S, A, _ = P.shape
    _check_rows_sum_to_one("P", P.sum(axis=2).reshape(-1), A)
    return _readonly(P)


def _validate_sparse_P(P, n_actions: int | None) -> sp.csr_matrix:
    _check_real_sparse("P", P)
    P = sp.csr_matrix(P, dtype=float, copy=True)    # never alias the caller's (or a read-only) CSR
    P.sum_duplicates()
    SA, S = P.shape
    if n_actions is None:
        if S == 0 or SA % S != 0:
            raise ValueError(f"sparse P must have shape (S*A, S); got {P.shape}, not a multiple of S")
        n_actions = SA // S
    if S == 0 or SA != S * n_actions:
        raise ValueError(f"sparse P must have shape (S*A, S) = ({S}*{n_actions}, {S}); got {P.shape}")
    _check_finite("P", P.data)
    _check_nonnegative("P", P.data)
    _check_rows_sum_to_one("P", np.asarray(P.sum(axis=1)).ravel(), n_actions)
    P.eliminate_zeros()
    for arr in (P.data, P.indices, P.indptr):
        arr.setflags(write=False)
    return P


def _expected_reward(R, P, S: int, A: int) -> np.ndarray:
    """Reduce ``R (S, A)`` or ``R (S, A, S)`` to the expected reward ``r(s, a) (S, A)``."""
    if sp.issparse(R):
        _check_real_sparse("R", R)
        if R.shape != (S * A, S):
            raise ValueError(f"sparse R must have shape (S*A, S) = {(S * A, S)}; got {R.shape}")
        R = sp.csr_matrix(R, dtype=float)
        _check_finite("R", R.data)
        Pm = P if sp.issparse(P) else sp.csr_matrix(P.reshape(S * A, S))
        return np.asarray(Pm.multiply(R).sum(axis=1)).reshape(S, A)
    R = _as_float_array("R", R)
    if R.shape == (S, A):
        _check_finite("R", R)
        return R
    if R.shape == (S, A, S):
        _check_finite("R", R)
        if sp.issparse(P):
            return np.asarray(P.multiply(R.reshape(S * A, S)).sum(axis=1)).reshape(S, A)
        return np.einsum("sat,sat->sa", P, R)
    raise ValueError(f"R must have shape (S, A) = {(S, A)} or (S, A, S) = {(S, A, S)}; got {R.shape}")


@dataclass(frozen=True, eq=False)
class FiniteMDP:
    """A finite MDP ``(P, r, mu, gamma, horizon)``; frozen, arrays read-only.

    Parameters
    ----------
    P : array_like (S, A, S) or scipy.sparse (S*A, S)
        Transition probabilities ``P[s, a, s'] = P(s' | s, a)``; row ``s*A + a`` of the
        sparse form is the distribution of ``s'`` after ``(s, a)``.  Rows must be
        non-negative, finite and sum to 1 within :data:`STOCHASTIC_ATOL`.
    R : array_like (S, A) or (S, A, S), or scipy.sparse (S*A, S)
        Rewards ``r(s, a)`` or ``r(s, a, s')``; the latter is reduced to the expected
        reward :math:`r(s,a) = \\sum_{s'} P(s'|s,a) r(s,a,s')`, which is all the
        exact quantities need.  The original form is kept in ``R_full`` for sampling.
    mu : array_like (S,)
        Start distribution.
    gamma : float in [0, 1]
        Discount.  ``gamma == 1`` needs a horizon, or a policy that reaches zero-reward
        absorbing states with probability 1 (checked when a policy is evaluated).
    horizon : int >= 1 or None
        Finite horizon ``H`` (trajectories ``s_0, a_0, ..., s_{H-1}, a_{H-1}``) or
        ``None`` for the infinite-horizon discounted objective.
    n_actions : int, optional
        Needed only when ``P`` is sparse and ``S*A`` alone does not determine ``A``
        (it always does, since the shape is ``(S*A, S)``); accepted for clarity.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.zeros((2, 2, 2)); P[:, 0, 0] = 1; P[:, 1, 1] = 1
    >>> mdp = FiniteMDP(P, np.array([[0., 1.], [0., 2.]]), np.array([1., 0.]), gamma=0.5)
    >>> mdp.n_states, mdp.n_actions, mdp.is_sparse
    (2, 2, False)
    >>> bool(np.allclose(mdp.P_sa.sum(axis=1), 1))
    True
    """

    P: np.ndarray | sp.csr_matrix
    R: np.ndarray
    mu: np.ndarray
    gamma: float
    horizon: int | None = None
    R_full: np.ndarray | sp.csr_matrix | None = field(default=None, repr=False)

    def __init__(self, P, R, mu, gamma: float, horizon: int | None = None, n_actions: int | None = None):
        if sp.issparse(P):
            P = _validate_sparse_P(P, n_actions)
            S, A = P.shape[1], P.shape[0] // P.shape[1]
        else:
            P = _validate_dense_P(_as_float_array("P", P))
            S, A = P.shape[0], P.shape[1]
        r = _expected_reward(R, P, S, A)
        R_full = None
        if sp.issparse(R):
            R_full = sp.csr_matrix(R, dtype=float)
        elif np.ndim(R) == 3:
            R_full = _readonly(R)
        mu = _as_float_array("mu", mu)
        if mu.shape != (S,):
            raise ValueError(f"mu must have shape (S,) = ({S},); got {mu.shape}")
        _check_finite("mu", mu)
        _check_nonnegative("mu", mu)
        if abs(mu.sum() - 1.0) > STOCHASTIC_ATOL:
            raise ValueError(f"mu must sum to 1 (within {STOCHASTIC_ATOL:g}); it sums to {float(mu.sum())!r}")
        gamma = _validate_gamma(gamma)
        horizon = _validate_horizon(horizon)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", _readonly(r))
        object.__setattr__(self, "mu", _readonly(mu))
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "horizon", horizon)
        object.__setattr__(self, "R_full", R_full)

    # ----------------------------------------------------------------- shapes
    @property
    def n_states(self) -> int:
        return int(self.P.shape[1] if self.is_sparse else self.P.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.P.shape[0] // self.P.shape[1] if self.is_sparse else self.P.shape[1])

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.P)

    @functools.cached_property
    def bandwidth(self) -> int:
        """:math:`\\max |s - s'|` over the transitions with ``P(s'|s,a) > 0`` (state order)."""
        P = sp.coo_matrix(self.P_sa)
        return int(np.abs(P.row // self.n_actions - P.col).max(initial=0))

    @property
    def P_sa(self):
        """Transitions as an ``(S*A, S)`` matrix (CSR if sparse, a dense view otherwise)."""
        return self.P if self.is_sparse else self.P.reshape(self.n_states * self.n_actions, self.n_states)

    def with_(self, **changes) -> "FiniteMDP":
        """A copy with some of ``P, R, mu, gamma, horizon`` replaced (validated again).

        Examples
        --------
        >>> import numpy as np
        >>> mdp = FiniteMDP(np.ones((1, 1, 1)), np.ones((1, 1)), np.ones(1), gamma=0.5)
        >>> mdp.with_(gamma=0.9).gamma
        0.9
        """
        args = dict(P=self.P, R=self.R if self.R_full is None else self.R_full,
                    mu=self.mu, gamma=self.gamma, horizon=self.horizon)
        unknown = set(changes) - set(args)
        if unknown:
            raise TypeError(f"with_() got unknown fields {sorted(unknown)}; expected some of {sorted(args)}")
        args.update(changes)
        return FiniteMDP(**args)

    # ------------------------------------------------------------- structure
    def support_graph(self, pi: np.ndarray | None = None) -> nx.DiGraph:
        """Directed graph with an edge ``s -> s'`` when ``P(s'|s,a) > 0`` for some action.

        With a policy ``pi (S, A)``, only actions with ``pi(a|s) > 0`` count.
        """
        P = sp.coo_matrix(self.P_sa)
        rows, cols = P.row, P.col
        keep = P.data > 0
        if pi is not None:
            keep &= np.asarray(pi).reshape(-1)[rows] > 0
        g = nx.DiGraph()
        g.add_nodes_from(range(self.n_states))
        g.add_edges_from(zip((rows[keep] // self.n_actions).tolist(), cols[keep].tolist()))
        return g

    def absorbing_states(self) -> np.ndarray:
        """States ``s`` with ``P(s|s,a) = 1`` for every action (sorted indices).

        Examples
        --------
        >>> import numpy as np
        >>> P = np.zeros((2, 1, 2)); P[0, 0, 1] = 1; P[1, 0, 1] = 1
        >>> FiniteMDP(P, np.zeros((2, 1)), np.array([1., 0.]), gamma=1.0).absorbing_states()
        array([1])
        """
        S, A = self.n_states, self.n_actions
        self_loop = np.asarray(sp.csr_matrix(self.P_sa)[np.arange(S * A), np.repeat(np.arange(S), A)]).reshape(S, A)
        return np.flatnonzero(np.all(np.abs(self_loop - 1.0) <= STOCHASTIC_ATOL, axis=1))

    def terminal_states(self) -> np.ndarray:
        """Absorbing states whose reward is zero under every action: where episodes end."""
        absorbing = self.absorbing_states()
        return absorbing[np.all(self.R[absorbing] == 0.0, axis=1)]

    def reachable_states(self, pi: np.ndarray | None = None) -> np.ndarray:
        """States reachable from the support of ``mu`` (under ``pi`` if given), sorted."""
        g = self.support_graph(pi)
        start = np.flatnonzero(self.mu > 0).tolist()
        seen = set(start)
        for s in start:
            seen |= nx.descendants(g, s)
        return np.array(sorted(seen), dtype=int)


def _validate_gamma(gamma) -> float:
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise TypeError(f"gamma must be a real number in [0, 1]; got {gamma!r}") from None
    if not (0.0 <= g <= 1.0):
        raise ValueError(f"gamma must lie in [0, 1]; got {gamma!r}")
    return g


def _validate_horizon(horizon) -> int | None:
    if horizon is None:
        return None
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)):
        raise TypeError(f"horizon must be None or an int >= 1; got {horizon!r}")
    if horizon < 1:
        raise ValueError(f"horizon must be None or an int >= 1; got {horizon}")
    return int(horizon)
