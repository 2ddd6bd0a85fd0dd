"""Alias tables of many discrete distributions at once, built without a loop over them.

Walker's alias method (Walker 1977, "An efficient method for generating discrete random
variables with general distributions", ACM TOMS 3): a row of ``w`` outcomes becomes ``w``
equiprobable slots, each keeping its own outcome with probability ``prob`` and giving the
rest to one ``alias``; a draw is one uniform, one look-up and one comparison.  The tables
come from the sweep of Vose (1991, "A linear algorithm for generating random numbers with a
given distribution", IEEE TSE 17), written as a merge of two cumulative sums so that all rows
of one width are built by a few array operations (:func:`alias_tables`).  Used by
:mod:`tabular_pg.sampled.samplers`.
"""
from __future__ import annotations

import numpy as np

__all__ = ["alias_tables"]


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
    counts = np.diff(starts)
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
