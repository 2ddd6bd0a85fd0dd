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
    Walker's alias method (Walker 1977, "An efficient method for generating discrete random
    variables with general distributions", ACM TOMS 3) with tables built by the sweep of
    Vose (1991, IEEE TSE 17) vectorised over all rows (:func:`alias_tables`): a draw costs
    the same handful of array operations whatever the width of the rows.
``"search"``
    ``searchsorted`` on the concatenated cumulative rows (the wide-row path before the alias
    tables; kept as the reference of ``bench/rollout.py``).

``method="auto"`` picks ``"table"`` when no row has more than :data:`NARROW_ROWS` entries and
``"alias"`` otherwise; ``"inverse_cdf"`` picks ``"table"`` or ``"search"`` by the same rule.
Entries of weight zero are never drawn by any method (infeasible actions stay infeasible).
The successor tables depend on the MDP only and are built once per MDP (:func:`transitions`);
only the action table is rebuilt when the policy changes.
"""
from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_pg.mdp import FiniteMDP

__all__ = ["NARROW_ROWS", "METHODS", "JOINT_BUILD_DRAWS", "RowSampler", "Transitions", "Sampler", "alias_tables", "row_sampler",
           "transitions", "sampler", "rewards_on_support"]

#: Rows with at most this many entries are sampled from a padded cumulative table by
#: ``method="auto"``; wider rows by alias tables.  Measured with ``bench/rollout.py``: at
#: n = 10^4 draws the table costs ~3 array operations per column, the alias draw ~8 in all,
#: and the table loses from 8 entries on (the table was kept up to 16 before the alias path).
NARROW_ROWS = 6
METHODS = ("auto", "joint", "alias", "inverse_cdf")
ROW_METHODS = ("auto", "inverse_cdf", "alias", "table", "search")
#: ``method="auto"`` builds the joint ``(a, s')`` tables (per policy) when the rollout draws at
#: least this many steps per table entry: a build costs ~100 ns an entry, a joint draw saves
#: ~10 ns a step over two alias draws (``bench/rollout.py``).
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


def _cumsum_down(x: np.ndarray) -> np.ndarray:
    """``np.cumsum(x, axis=0)`` of ``x (w, k)``, bit for bit; a loop over the ``w`` rows when ``w < k``.

    numpy accumulates along axis 0 one column at a time: for short wide arrays (alias tables
    of many narrow rows) the loop of ``w`` whole-row additions was 14x faster (measured at
    ``w = 32, k = 10^5``).
    """
    if x.shape[0] >= x.shape[1]:
        return np.cumsum(x, axis=0)
    out = x.astype(np.intp) if x.dtype == bool else x.copy()
    for i in range(1, out.shape[0]):
        np.add(out[i], out[i - 1], out=out[i])
    return out


def _first_at_least(E: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray, stride: int,
                    offset: np.ndarray) -> np.ndarray:
    """Per query, the first ``i`` in ``[lo, hi]`` with ``E[i*stride + offset] >= x`` (else ``hi``).

    ``E`` is sorted on each query's range.  A bisection vectorised over the queries:
    ``ceil(log2(max(hi - lo) + 1))`` rounds of exact float comparisons (no offsets are added
    to the keys, so the merge does not round).
    """
    lo, hi = lo.copy(), hi.copy()
    while (lo < hi).any():
        mid = (lo + hi) // 2
        right = np.take(E, mid * stride + offset) < x
        lo = np.where(right, mid + 1, lo)
        hi = np.where(right, hi, mid)
    return lo


def _alias_block(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alias tables of the ``k`` rows of ``weights (k, w)``: ``(prob, alias)``, both ``(k, w)``.

    Notes
    -----
    Scaled weights :math:`q_i = w\\,p_i`; "lights" have :math:`q < 1`, "heavies" :math:`q \\ge 1`.
    Vose's sweep fills the lights' holes :math:`d_i = 1-q_i` in order from the heavies in order,
    a heavy turning light (and being filled by the next heavy) once its residual drops below 1.
    With :math:`D_i = \\sum_{l<i} d_l` and :math:`E_j = \\sum_{m \\le j}(q_m - 1)`, heavy ``j``
    holds :math:`1 + E_j - D` after filling holes up to :math:`D`, so light ``i`` is filled by
    the first heavy with :math:`E_j \\ge D_i` (a merge of two sorted sequences, by bisection),
    and heavy ``j`` keeps :math:`1 + E_j - \\sum(\\text{holes it and its predecessors filled})`
    and aliases heavy ``j + 1``.  Every entry then gets exactly :math:`q_i/w`: no loop over
    rows, :math:`O(k\\,w \\log w)` in flat array operations.
    """
    k, w = weights.shape
    q = np.ascontiguousarray(weights.T) * (w / weights.sum(axis=1))   # (w, k): row r is column r
    heavy = q >= 1.0
    none = np.flatnonzero(~heavy.any(axis=0))                 # rounding: every q a hair below 1
    heavy[np.argmax(q[:, none], axis=0), none] = True
    n_light = w - heavy.sum(axis=0)
    r = np.arange(k)
    pos = np.where(heavy, n_light + _cumsum_down(heavy) - 1, _cumsum_down(~heavy) - 1)
    order = np.empty(k * w, np.intp)                            # sorted slot p*k + r -> c*k + r
    order[(pos * k + r).ravel()] = np.arange(k * w)
    qs, hs = q.ravel()[order].reshape(w, k), heavy.ravel()[order].reshape(w, k)
    d = np.where(hs, 0.0, 1.0 - qs)
    E = _cumsum_down(np.where(hs, qs - 1.0, 0.0))
    light = np.flatnonzero(~hs.ravel())
    row = light % k
    first = _first_at_least(E.ravel(), n_light[row], np.full(row.size, w - 1), (_cumsum_down(d) - d).ravel()[light],
                            k, row)
    filled = np.bincount(first * k + row, weights=d.ravel()[light], minlength=k * w).reshape(w, k)
    prob_s = np.where(hs, np.clip(1.0 + E - _cumsum_down(filled), 0.0, 1.0), qs)
    prob_s[-1] = 1.0                                            # the last heavy keeps the rest
    alias_s = np.arange(k, k * w + k)                           # a heavy: the next heavy (the last: itself)
    alias_s[-k:] -= k
    alias_s[light] = first * k + row
    prob, alias = np.empty(k * w), np.empty(k * w, np.intp)
    prob[order], alias[order] = prob_s.ravel(), order[alias_s] // k
    return prob.reshape(w, k).T, alias.reshape(w, k).T


def alias_tables(weights: np.ndarray, starts: np.ndarray):
    """Alias tables of all rows of a CSR-like table of non-negative weights, vectorised.

    Parameters
    ----------
    weights : ndarray, shape (nnz,)
        Row ``r`` is ``weights[starts[r]:starts[r+1]]`` (not all zero).
    starts : ndarray of int, shape (rows + 1,)

    Returns
    -------
    prob : ndarray, shape (slots,)
        Probability of keeping a slot's own entry.
    alias : ndarray of intp, shape (slots,)
        The slot drawn otherwise.
    entry : ndarray of intp, shape (slots,)
        Index into ``weights`` of each slot's entry.
    slot_starts : ndarray of intp, shape (rows + 1,)
        Row ``r`` owns the slots ``slot_starts[r]:slot_starts[r+1]``: its width rounded up to a
        power of two (padding slots have weight 0, so ``u * width`` is exact).  Rows of one
        width are built together; the only loop is over the <= 64 distinct widths.

    Notes
    -----
    A draw picks slot :math:`j = \\lfloor u\\,w \\rfloor` of its row and keeps it when
    :math:`u\\,w - j <` ``prob[j]``, else takes ``alias[j]``: entry ``i`` is drawn with
    probability :math:`p_i` exactly (up to rounding of the weights), see :func:`_alias_block`.

    Examples
    --------
    >>> prob, alias, entry, s = alias_tables(np.array([0.5, 0.25, 0.25, 1.0]), np.array([0, 3, 4]))
    >>> s.tolist(), entry.tolist()
    ([0, 4, 5], [0, 1, 2, 0, 3])
    >>> kept = np.bincount(entry, weights=prob, minlength=4)          # each slot keeps prob, passes on 1 - prob
    >>> (kept + np.bincount(entry[alias], weights=1 - prob, minlength=4)).tolist()
    [2.0, 1.0, 1.0, 1.0]
    """
    counts, _ = _segments(starts)
    widths = 1 << np.ceil(np.log2(np.maximum(counts, 1))).astype(np.intp)
    slot_starts = np.concatenate([[0], np.cumsum(widths)]).astype(np.intp)
    prob, alias = np.zeros(slot_starts[-1]), np.zeros(slot_starts[-1], np.intp)
    entry = np.zeros(slot_starts[-1], np.intp)
    for w in np.unique(widths):
        rows = np.flatnonzero(widths == w)
        cols = np.arange(w)
        valid = cols < counts[rows, None]
        index = np.where(valid, starts[rows, None] + cols, starts[rows, None])
        p, a = _alias_block(np.where(valid, weights[index], 0.0))
        slots = slot_starts[rows, None] + cols
        prob[slots], alias[slots], entry[slots] = p, slot_starts[rows, None] + a, index
    return prob, alias, entry, slot_starts


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

    def draw(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Slots drawn from ``rows (m,)`` with uniforms ``u (m,)`` in [0, 1), shape ``(m,)``."""
        if self.method == "table":
            index = np.take(self.starts, rows)
            for column in self.cdf[:-1]:                           # loop over <= NARROW_ROWS columns, not rows
                index += np.take(column, rows) <= u
            return index
        if self.method == "search":
            return np.minimum(np.searchsorted(self.cdf, rows + u, side="right"), np.take(self.alias, rows))
        if self.width is not None:
            x = u * self.width
            k = rows * self.width + x.astype(np.intp)
        else:
            first = np.take(self.starts, rows)
            x = u * (np.take(self.starts, rows + 1) - first)
            k = first + x.astype(np.intp)
        return np.where(x < np.take(self.cdf, k), k, np.take(self.alias, k))     # keep slot j iff x - j < prob_j


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
        return RowSampler("search", starts, cdf + row_of, _last_positive(weights, starts), None, np.arange(weights.size))
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


_TRANSITIONS: "weakref.WeakKeyDictionary[FiniteMDP, dict]" = weakref.WeakKeyDictionary()


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
    def terminal(self) -> np.ndarray:
        return self.model.terminal

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
