"""Vectorised exact samplers of one entry from each of many rows at once (start states, actions, successors).

Used by :mod:`tabular_pg.sampled.rollout`: one draw per trajectory and step, for all
trajectories together, from CSR-like tables of weights, without building dense rows.  Three
exact methods, all returning the *slot* of the drawn entry in the sampler's own layout
(:attr:`RowSampler.entry` maps slots to the entries of the input):

``"table"``
    Inverse CDF on a padded ``(width, rows)`` table of cumulative weights: the draw is the
    number of entries ``<= u`` (a loop over at most :data:`NARROW_ROWS` columns, vectorised
    over draws).  The fastest for narrow rows.
``"alias"``
    Walker's alias method with tables built for all rows at once
    (:func:`tabular_pg.sampled.alias.alias_tables`): a draw costs the same handful of array
    operations whatever the width of the rows.
``"search"``
    ``searchsorted`` on the concatenated cumulative rows (the wide-row path before the alias tables).

A rollout step (:class:`Sampler`) draws the action, then the successor, or with
``method="joint"`` both at once: one alias draw from the rows :math:`\\pi(a|s)P(s'|s,a)` over
the pairs :math:`(a, s')`.  ``method="auto"`` takes ``"table"`` for rows of at most
:data:`NARROW_ROWS` entries, ``"alias"`` otherwise, and ``"joint"`` when the rows of ``P`` are
wide and the rollout draws at least :data:`JOINT_BUILD_DRAWS` steps per joint table entry;
``"inverse_cdf"`` takes ``"table"`` or ``"search"``.  No method ever draws an entry of
weight zero (infeasible actions stay infeasible).  The successor tables depend on the MDP
only and are built once per MDP (:func:`transitions`); a new policy rebuilds only its own.
A rollout walks a chunk of steps at a time (:meth:`Sampler.walk`) and keeps only the codes of
the draws; the joint alias rows of one width run on codes ``2 j + keep`` (two gathers a step),
and actions, states and rewards are looked up from the codes in bulk (:attr:`Sampler.emissions`).
"""
from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.sparse as sp

from tabular_pg.mdp import FiniteMDP
from tabular_pg.sampled.alias import alias_tables

__all__ = ["NARROW_ROWS", "METHODS", "ROW_METHODS", "JOINT_BUILD_DRAWS", "RowSampler", "Transitions", "Sampler",
           "row_sampler", "transitions", "sampler", "rewards_on_support"]

#: Rows with at most this many entries are sampled from a padded cumulative table by
#: ``method="auto"``, wider rows by alias tables.  Measured with ``bench/rollout.py``: on
#: 1,000 cache-resident rows the table costs ~3 array operations a column and the alias draw
#: wins from 4 entries on; in whole rollouts on the sparse garnet S = 10^4 (rows of 5, tables
#: out of cache, alias rows padded to 8) the table was still faster, so rows of up to 6 keep it.
NARROW_ROWS = 6
METHODS = ("auto", "joint", "alias", "inverse_cdf")
ROW_METHODS = ("auto", "inverse_cdf", "alias", "table", "search")
#: ``method="auto"`` builds the joint ``(a, s')`` tables (per policy) when the rollout draws at
#: least this many steps per table entry: a build costs 100-300 ns an entry, a joint draw saves
#: ~15 ns a step over two alias draws (``bench/rollout.py``, dense garnets S = 64 and 500).
JOINT_BUILD_DRAWS = 10


def _segments(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, row_of)``: entries per row and the row of each entry of a CSR-like layout."""
    counts = np.diff(starts)
    return counts, np.repeat(np.arange(counts.size), counts)


def _last_positive(weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the last entry of positive weight of each (non-empty, not all-zero) row."""
    return np.maximum.reduceat(np.where(weights > 0, np.arange(weights.size), -1), starts[:-1])


def _cumulative_rows(weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative weights within each row, normalised; exactly 1 from each row's last positive entry on.

    The trailing 1s leave every zero-weight entry an empty interval ``[c, c)``, so that no
    inverse-CDF draw ever returns one (not even with probability ~1e-16 from rounding).
    """
    counts, row_of = _segments(starts)
    totals = np.bincount(row_of, weights=weights, minlength=counts.size)
    cdf = np.cumsum(weights) - np.repeat(np.cumsum(totals) - totals, counts)
    cdf = cdf / np.repeat(np.where(totals > 0, totals, 1.0), counts)
    cdf[np.arange(weights.size) >= np.repeat(_last_positive(weights, starts), counts)] = 1.0
    return cdf


@dataclass(frozen=True, eq=False)
class RowSampler:
    """Draws of one entry from each of many rows of a CSR-like table (see the module docstring).

    Attributes
    ----------
    method : str
        ``"table"``, ``"search"`` or ``"alias"``.
    starts : ndarray of intp, shape (rows + 1,)
        First slot of each row.
    cdf : ndarray
        ``"table"``: ``(width, rows)`` cumulative weights; ``"search"``: ``(nnz,)`` cumulative
        weights, row ``r`` shifted by ``r``; ``"alias"``: ``(slots,)`` keep thresholds
        ``j + prob_j`` of the ``j``-th slot of each row (``x = u * width`` keeps slot ``j = floor(x)``
        iff ``x < j + prob_j``; ``prob_j = 0`` gives ``j``, never exceeded by such an ``x``).
    alias : ndarray of intp or None
        ``"alias"``: ``(slots,)`` alias slots; ``"search"``: ``(rows,)`` the last entry of
        positive weight of each row (``rows + u`` may round up to the next row's start).
    width : int or None
        ``"alias"`` with rows of one width: that width (then row ``r`` starts at ``r * width``).
    entry : ndarray of intp, shape (slots,)
        Index into the input weights of each slot.
    """

    method: str
    starts: np.ndarray
    cdf: np.ndarray
    alias: np.ndarray | None
    width: int | None
    entry: np.ndarray

    @property
    def _width(self) -> int:
        """``width``, set where every row has the same (padded) width (the coded walk needs one)."""
        return cast(int, self.width)

    @property
    def _alias(self) -> np.ndarray:
        """``alias``, which every method but ``"table"`` sets (the slot each slot falls back to)."""
        return cast(np.ndarray, self.alias)

    def draw(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Slots drawn from ``rows (m,)`` with uniforms ``u (m,)`` in [0, 1), shape ``(m,)``."""
        if self.method == "table":
            index = np.take(self.starts, rows)
            for column in self.cdf[:-1]:                           # loop over <= NARROW_ROWS columns, not rows
                index += np.take(column, rows) <= u
            return index
        if self.method == "search":
            return np.minimum(np.searchsorted(self.cdf, rows + u, side="right"), np.take(self._alias, rows))
        if self.width is not None:
            x = u * self.width
            k = rows * self.width + x.astype(np.intp)
        else:
            first = np.take(self.starts, rows)
            x = u * (np.take(self.starts, rows + 1) - first)
            k = first + x.astype(np.intp)
        return np.where(x < np.take(self.cdf, k), k, np.take(self._alias, k))    # keep slot j iff x - j < prob_j


def row_sampler(weights: np.ndarray, starts: np.ndarray, method: str = "auto") -> RowSampler:
    """Build a :class:`RowSampler` of the rows ``weights[starts[r]:starts[r+1]]``.

    ``method``: ``"auto"`` (table for rows of <= :data:`NARROW_ROWS` entries, else alias),
    ``"inverse_cdf"`` (table, else searchsorted), or one of ``"alias"``, ``"table"``, ``"search"``.
    """
    if method not in ROW_METHODS:
        raise ValueError(f"method must be one of {ROW_METHODS}; got {method!r}")
    counts, row_of = _segments(starts)
    width = int(counts.max(initial=1))
    if method == "alias" or (method == "auto" and width > NARROW_ROWS):
        prob, alias, entry, slot_starts = alias_tables(weights, starts)
        widths = np.diff(slot_starts)
        uniform = int(widths[0]) if widths.size and (widths == widths[0]).all() else None
        local = np.arange(prob.size) - np.repeat(slot_starts[:-1], widths)
        return RowSampler("alias", slot_starts, local + prob, alias, uniform, entry)
    cdf = _cumulative_rows(weights, starts)
    if method == "search" or (method != "table" and width > NARROW_ROWS):
        return RowSampler("search", starts, cdf + row_of, _last_positive(weights, starts), None,
                          np.arange(weights.size))
    table = np.ones((width, counts.size))                          # column j: j-th cumulative weight
    table[np.arange(cdf.size) - starts[row_of], row_of] = cdf
    return RowSampler("table", starts, table, None, None, np.arange(weights.size))


@dataclass(frozen=True, eq=False)
class Transitions:
    """Successor sampler of an MDP (rows ``s*A + a`` of ``P``), with what each slot emits.

    ``P`` is the CSR ``(S*A, S)`` form (no explicit zeros), ``pair`` and ``rewards`` the row
    ``s*A + a`` and the reward of each of its entries (for the joint tables of :class:`Sampler`).
    """

    succ: RowSampler
    state: np.ndarray             # (slots,) successor state of each slot
    reward: np.ndarray            # (slots,) reward r(s, a, s') (or r(s, a)) of each slot
    terminal: np.ndarray          # (S,) bool
    P: sp.csr_matrix
    pair: np.ndarray              # (nnz,)
    rewards: np.ndarray           # (nnz,)

    @functools.cached_property
    def ends(self) -> bool:
        """Whether the MDP has terminal states at all (else no step needs masking)."""
        return bool(self.terminal.any())


def rewards_on_support(mdp: FiniteMDP, P: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """``r(s, a, s')`` at each nonzero of ``P`` (row ``s*A+a``), or ``r(s, a)`` without full rewards."""
    if mdp.R_full is None:
        return mdp.R.reshape(-1)[rows]
    if sp.issparse(mdp.R_full):
        return np.asarray(sp.csr_matrix(mdp.R_full)[rows, P.indices]).ravel()
    return mdp.R_full.reshape(P.shape)[rows, P.indices]


#: FiniteMDP -> {method: Transitions}, dropped with the MDP.
_TRANSITIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def transitions(mdp: FiniteMDP, method: str = "auto") -> Transitions:
    """The successor sampler of ``mdp``, built once per MDP and method (the MDP is frozen)."""
    cache = _TRANSITIONS.setdefault(mdp, {})
    if method not in cache:
        P = sp.csr_matrix(mdp.P_sa, copy=True)   # validated MDPs hold no explicit zeros when sparse
        P.eliminate_zeros()
        pair = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
        rewards = rewards_on_support(mdp, P, pair)
        succ = row_sampler(P.data, P.indptr.astype(np.intp), method)
        terminal = np.zeros(mdp.n_states, dtype=bool)
        terminal[mdp.terminal_states()] = True
        cache[method] = Transitions(succ, P.indices.astype(np.intp)[succ.entry], rewards[succ.entry], terminal,
                                    P, pair, rewards)
    return cache[method]


@dataclass(frozen=True, eq=False)
class Sampler:
    r"""Row samplers of ``mu``, ``pi`` and ``P`` for repeated vectorised steps.

    Either two draws a step (the action from ``first``, then the successor from
    ``model.succ``) or, ``joint``, one draw from ``first`` whose rows (one per state, or per
    step and state) hold the pairs :math:`(a, s')` with weights :math:`\pi(a|s)\,P(s'|s,a)`.
    ``action_of``, ``state_of`` and ``reward_of`` give what the slot drawn last emits.
    """

    start: RowSampler             # one row: mu
    first: RowSampler             # rows (step,) state: pi, or the joint (a, s') rows
    action_of: np.ndarray         # (slots of first,)
    state_of: np.ndarray          # (slots of the last draw,) successor state
    reward_of: np.ndarray         # (slots of the last draw,) reward
    model: Transitions
    n_states: int
    n_actions: int
    per_step: bool
    joint: bool

    @property
    def n_uniforms(self) -> int:
        """Uniforms a step consumes per trajectory (1 joint, 2 otherwise)."""
        return 1 if self.joint else 2

    def states(self, u: np.ndarray) -> np.ndarray:
        return self.start.entry[self.start.draw(np.zeros(u.size, np.intp), u)]

    def advance(self, h: int, s: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, s', r)`` of one step from states ``s (n,)`` at step ``h``, uniforms ``u (n_uniforms, n)``."""
        k = self.first.draw(s + h * self.n_states if self.per_step else s, u[0])
        a = np.take(self.action_of, k)
        if not self.joint:
            k = self.model.succ.draw(s * self.n_actions + a, u[1])
        return a, np.take(self.state_of, k), np.take(self.reward_of, k)

    @property
    def coded(self) -> bool:
        """Whether :meth:`walk` runs the joint alias draw on codes (one row width: the dense fast path)."""
        return self.joint and self.first.method == "alias" and self.first.width is not None

    @functools.cached_property
    def emissions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(action, state, reward)`` of each code :meth:`walk` returns, shapes ``(codes,)``: int32, int32, float.

        The action is read from the codes of the first draw, state and reward from those of the
        last.  Codes are slots, or with :attr:`coded` ``2 j + keep`` for the alias draw of slot
        ``j`` (``keep``: the slot's own entry, else its alias).
        """
        action, state, reward = self.action_of, self.state_of, self.reward_of
        if self.coded:
            slot = np.stack([self.first._alias, np.arange(action.size)], axis=1).reshape(-1)
            action, state, reward = action[slot], state[slot], reward[slot]
        return action.astype(np.int32), state.astype(np.int32), reward

    @functools.cached_property
    def _pair_of(self) -> np.ndarray | None:
        """Row ``s*A + a`` of ``P`` of each slot of ``first`` (not joint); None where it is the slot itself."""
        pair = self.first.entry % (self.n_states * self.n_actions)
        return None if np.array_equal(pair, np.arange(pair.size)) else pair

    @functools.cached_property
    def _code_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """``(threshold, base)`` by code: ``cdf`` of slot ``code // 2`` and ``2 W s'`` of the state drawn."""
        return np.repeat(self.first.cdf, 2), self.emissions[1].astype(np.intp) * (2 * self.first._width)

    def walk(self, s: np.ndarray, h: int, u: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Steps ``h .. h+c-1`` from states ``s (n,)`` with uniforms ``u (c, n_uniforms, n)`` (overwritten).

        Writes the codes ``(c, n)`` of the action draws into ``first`` and of the successor
        draws into ``last`` (the same array when joint; see :attr:`emissions`); returns the
        states ``(n,)`` after the last step.  The same draws as :meth:`advance` step by step:
        same uniforms, same trajectories.  The caller's buffers are reused chunk after chunk
        (fresh ones cost page faults).
        """
        if self.coded:
            return self._walk_coded(s, h, u, first)
        c = u.shape[0]
        for i in range(c):
            first[i] = self.first.draw(s + (h + i) * self.n_states if self.per_step else s, u[i, 0])
            if not self.joint:
                rows = first[i] if self._pair_of is None else np.take(self._pair_of, first[i])
                last[i] = self.model.succ.draw(rows, u[i, 1])
            s = np.take(self.state_of, last[i])
        return s

    def _walk_coded(self, s: np.ndarray, h: int, u: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """:meth:`walk` for the joint alias rows of one width ``W``: two gathers a step.

        As :meth:`RowSampler.draw`, ``x = u W`` picks slot ``j = row W + floor(x)``, kept iff
        ``x < cdf[j]``; the code ``2 j + keep`` then gives the next row's offset ``2 W s'``
        by one look-up, and the action, state and reward afterwards by bulk look-ups.
        """
        W, threshold, base_of = self.first._width, *self._code_tables
        x = np.multiply(u[:, 0], W, out=u[:, 0])                   # (c, n)
        np.copyto(codes, x, casting="unsafe")                      # floor(x): x >= 0
        codes *= 2
        if self.per_step:
            codes += (2 * W * self.n_states) * np.arange(h, h + u.shape[0])[:, None]
        base, cut, keep = s * (2 * W), np.empty(s.size), np.empty(s.size, bool)
        for k, x_k in zip(codes, x):                               # mode="wrap": valid codes, no buffered out
            k += base
            np.less(x_k, np.take(threshold, k, out=cut, mode="wrap"), out=keep)
            k += keep
            np.take(base_of, k, out=base, mode="wrap")
        return np.take(self.emissions[1], codes[-1]).astype(np.intp)


def _joint(model: Transitions, pi: np.ndarray, A: int) -> tuple[RowSampler, np.ndarray, np.ndarray, np.ndarray]:
    """The one-draw sampler of :math:`(a, s')` from each state: rows ``h*S + s`` of ``pi[h](a|s) P(s'|s,a)``.

    Returns the sampler and the action, successor and reward of each of its slots.
    """
    P, pair, nnz = model.P, model.pair, model.P.nnz
    policies = pi.reshape(-1, P.shape[0])                      # (H or 1, S*A)
    weights = (policies[:, pair] * P.data).reshape(-1)
    starts = (np.arange(policies.shape[0])[:, None] * nnz + P.indptr[::A][None, :-1]).reshape(-1)
    joint = row_sampler(weights, np.append(starts, weights.size).astype(np.intp), "alias")
    at = joint.entry % nnz                                     # entry of P of each joint slot
    return joint, pair[at] % A, P.indices.astype(np.intp)[at], model.rewards[at]


def sampler(mdp: FiniteMDP, pi: np.ndarray, method: str = "auto", draws: int | None = None) -> Sampler:
    """Samplers of ``mdp`` and the validated policy ``pi (S, A)`` or ``(H, S, A)`` (see :data:`METHODS`).

    ``draws`` (the number of steps to be sampled, if known) lets ``method="auto"`` build the
    joint tables only when they serve more draws than they have entries (their build is
    linear in the entries of ``P`` per policy; the successor tables are built once per MDP).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    S, A = mdp.n_states, mdp.n_actions
    rows_method = "alias" if method == "joint" else method
    model = transitions(mdp, rows_method)
    start = row_sampler(mdp.mu, np.array([0, S]), rows_method)
    entries = (pi.size // (S * A)) * model.pair.size           # size of the joint tables
    if method == "joint" or (method == "auto" and model.succ.method != "table"
                             and JOINT_BUILD_DRAWS * entries <= (draws or 0)):
        first, action_of, state_of, reward_of = _joint(model, pi, A)
        return Sampler(start, first, action_of, state_of, reward_of, model, S, A, pi.ndim == 3, True)
    flat = pi.reshape(-1)
    first = row_sampler(flat, np.arange(0, flat.size + 1, A), method)
    return Sampler(start, first, (first.entry % A).astype(np.intp), model.state, model.reward, model, S, A,
                   pi.ndim == 3, False)
