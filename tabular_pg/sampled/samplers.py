"""Vectorised inverse-CDF samplers of many rows at once (start states, actions, successors).

Used by :mod:`tabular_pg.sampled.rollout`: one draw per trajectory and step, for all trajectories
together, from CSR-like tables of probabilities, without building dense rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_pg.mdp import FiniteMDP

__all__ = ["NARROW_ROWS", "sampler", "rewards_on_support"]


#: Rows with at most this many entries are sampled from a padded table (compare and count),
#: wider rows by ``searchsorted`` on their cumulative data.
NARROW_ROWS = 16


def _cumulative_rows(weights: np.ndarray, row_of: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative weights within each row, normalised so that the row's last entry is exactly 1."""
    n_rows = starts.size - 1
    totals = np.bincount(row_of, weights=weights, minlength=n_rows)
    cdf = np.cumsum(weights) - np.repeat(np.cumsum(totals) - totals, np.diff(starts))
    cdf = cdf / np.repeat(np.where(totals > 0, totals, 1.0), np.diff(starts))
    cdf[starts[1:][totals > 0] - 1] = 1.0
    return cdf


@dataclass(frozen=True, eq=False)
class _RowSampler:
    """Inverse-CDF sampling of one entry from each of many rows of a CSR-like table.

    Narrow rows: a padded ``(rows, width)`` table of cumulative weights, the draw is the
    count of entries ``<= u``; wide rows: ``searchsorted`` on the concatenated
    cumulative data, row ``k`` shifted by ``k`` so that the whole array is increasing.
    Both return the index of the drawn entry in the CSR data.
    """

    starts: np.ndarray
    cdf: np.ndarray
    narrow: bool

    @classmethod
    def build(cls, weights: np.ndarray, starts: np.ndarray) -> "_RowSampler":
        counts = np.diff(starts)
        row_of = np.repeat(np.arange(counts.size), counts)
        cdf = _cumulative_rows(weights, row_of, starts)
        width = int(counts.max(initial=1))
        if width > NARROW_ROWS:
            return cls(starts, cdf + row_of, False)
        table = np.ones((width, counts.size))                      # column j: j-th cumulative weight
        table[np.arange(cdf.size) - starts[row_of], row_of] = cdf
        return cls(starts, table, True)

    def draw(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        if self.narrow:
            index = np.take(self.starts, rows)
            for column in self.cdf[:-1]:                           # loop over <= 16 columns, not rows
                index += np.take(column, rows) <= u
            return index
        return np.minimum(np.searchsorted(self.cdf, rows + u, side="right"), self.starts[rows + 1] - 1)


@dataclass(frozen=True, eq=False)
class _Sampler:
    """Precomputed row samplers of ``mu``, ``pi`` and ``P`` for repeated vectorised steps."""

    n_actions: int
    start: _RowSampler            # one row: mu
    action: _RowSampler           # rows (step,) state: pi
    succ: _RowSampler             # rows s*A + a: P
    succ_state: np.ndarray        # (nnz,) successor state of each entry of P
    succ_reward: np.ndarray       # (nnz,) reward r(s, a, s') of each entry
    terminal: np.ndarray          # (S,) bool
    per_step: bool

    def states(self, u: np.ndarray) -> np.ndarray:
        return self.start.draw(np.zeros(u.size, np.intp), u)

    def actions(self, h: int, s: np.ndarray, u: np.ndarray) -> np.ndarray:
        rows = s + (h * self.terminal.size if self.per_step else 0)
        return self.action.draw(rows, u) - rows * self.n_actions

    def step(self, s: np.ndarray, a: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self.succ.draw(s * self.n_actions + a, u)
        return self.succ_state[k], self.succ_reward[k]


def rewards_on_support(mdp: FiniteMDP, P: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """``r(s, a, s')`` at each nonzero of ``P`` (row ``s*A+a``), or ``r(s, a)`` without full rewards."""
    if mdp.R_full is None:
        return mdp.R.reshape(-1)[rows]
    if sp.issparse(mdp.R_full):
        return np.asarray(sp.csr_matrix(mdp.R_full)[rows, P.indices]).ravel()
    return mdp.R_full.reshape(P.shape)[rows, P.indices]


def sampler(mdp: FiniteMDP, pi: np.ndarray) -> _Sampler:
    S, A = mdp.n_states, mdp.n_actions
    P = sp.csr_matrix(mdp.P_sa, copy=True)   # validated MDPs hold no explicit zeros when sparse
    P.eliminate_zeros()
    rows = np.repeat(np.arange(S * A), np.diff(P.indptr))
    flat = pi.reshape(-1)
    terminal = np.zeros(S, dtype=bool)
    terminal[mdp.terminal_states()] = True
    return _Sampler(A, _RowSampler.build(mdp.mu, np.array([0, S])),
                    _RowSampler.build(flat, np.arange(0, flat.size + 1, A)),
                    _RowSampler.build(P.data, P.indptr.astype(np.intp)), P.indices.astype(np.intp),
                    rewards_on_support(mdp, P, rows), terminal, pi.ndim == 3)
