"""Shared assembly of zoo MDPs from transition triplets (internal).

Every constructor in the zoo lists its transitions as triplets ``(row, s', p)`` with
``row = s*A + a``, optionally with a reward ``r(s, a, s')`` per triplet, and leaves the
choice dense ``(S, A, S)`` / sparse CSR ``(S*A, S)`` to :func:`assemble`.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tabular_pg._checks import integer
from tabular_pg.mdp import FiniteMDP

#: Above this many states a zoo MDP is stored sparse unless told otherwise.
SPARSE_ABOVE = 1000
#: Largest dense ``P`` (entries) a zoo constructor will build when told ``sparse=False``.
DENSE_MAX = 10 ** 8


def positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an ``int >= minimum``: a TypeError naming ``name`` for a non-integer (a
    string, a float, a bool), a ValueError for a small one -- the package's one rule
    (:func:`tabular_pg._checks.integer`)."""
    return integer(name, value, minimum)


def probability(name: str, value) -> float:
    """``value`` as a float in [0, 1], or a ValueError naming ``name``."""
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}") from None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1]; got {value!r}")
    return p


def finite_real(name: str, value) -> float:
    """``value`` as a finite float; TypeError for a non-number (a string is not parsed), ValueError for NaN/inf."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a finite real number; got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    return float(value)


def use_sparse(sparse, n_states: int, n_actions: int) -> bool:
    """Resolve ``sparse=None`` to ``n_states > SPARSE_ABOVE``; refuse a dense ``P`` over ``DENSE_MAX``."""
    if sparse is None:
        return n_states > SPARSE_ABOVE
    if not isinstance(sparse, (bool, np.bool_)):
        raise ValueError(f"sparse must be None, True or False; got {sparse!r}")
    if not sparse and n_states * n_actions * n_states > DENSE_MAX:
        raise ValueError(f"sparse=False would store a dense P of {n_states}*{n_actions}*{n_states} "
                         f"entries (more than {DENSE_MAX:.0e}); use sparse=None or True")
    return bool(sparse)


def assemble(rows, cols, probs, n_states: int, n_actions: int, reward, mu, gamma: float,
             horizon: int | None = None, sparse=None) -> FiniteMDP:
    """Build a :class:`FiniteMDP` from triplets ``P[row, col] += prob``.

    Parameters
    ----------
    rows, cols, probs : array_like (n,)
        Row ``s*A + a``, next state ``s'`` and probability of each transition; repeated
        ``(row, col)`` pairs add up.  Zero-probability triplets are dropped.
    n_states, n_actions : int
        ``S`` and ``A``.
    reward : array_like (S, A) or (n,)
        Expected rewards ``r(s, a)``, or one reward ``r(s, a, s')`` per triplet (then
        triplets sharing ``(row, col)`` must carry the same reward; it is kept as a
        ``(S*A, S)`` / ``(S, A, S)`` reward so that samplers see ``r(s, a, s')``).
        Triplets that share ``(row, col)`` get their probability-weighted mean reward,
        the expected reward given ``s'``, so ``r(s, a)`` is always exact.
    mu : array_like (S,)
    gamma : float
    horizon : int or None
    sparse : bool or None
        ``None``: sparse when ``S > SPARSE_ABOVE``.
    """
    S, A = n_states, n_actions
    rows, cols, probs = (np.asarray(x) for x in (rows, cols, probs))
    keep = probs > 0
    P = sp.csr_matrix((probs[keep], (rows[keep], cols[keep])), shape=(S * A, S))
    reward = np.asarray(reward, dtype=float)
    if reward.ndim == 2:
        R = reward
    else:
        weighted = sp.csr_matrix((probs[keep] * reward[keep], (rows[keep], cols[keep])), shape=(S * A, S))
        R = P.copy()
        R.data = weighted.data / P.data       # same triplets, same CSR structure
    if not use_sparse(sparse, S, A):
        P = P.toarray().reshape(S, A, S)
        if sp.issparse(R):
            R = R.toarray().reshape(S, A, S)
    return FiniteMDP(P, R, mu, gamma=gamma, horizon=horizon)
