"""Sparse matrix-vector products on several cores: a CSR matrix split into row blocks.

scipy's sparse kernels (``csr_matvec``, ``csc_matvec``) release the GIL, so the blocks'
products run on threads.  Measured on the S = 1e6 garnet of ``bench/exact_scaling.py``
(:math:`P_\\pi` with 2e7 entries, 2 cores): 25 ms for ``P @ x`` in one piece against 14.5 ms
on two threads, and 22 ms against 12.6 ms for ``P.T @ y``.  The Krylov and fixed-point
solvers of :mod:`tabular_pg.exact.linsolve` spend almost all their time in these products.

Determinism.  ``P @ x`` is bit-identical to the unsplit product whatever the blocks (each
row is summed in the same order), so it is split into as many blocks as there are threads.
``P.T @ y`` is the sum, in block order, of the blocks' transposed products, so its rounding
depends on the blocks: it always uses :data:`TRANSPOSE_BLOCKS` of them, however many threads
run them, so that a result is the same on every machine.  (Each block's transposed product
fills a whole output vector, so more blocks cost more additions: measured 25.8 ms with four
blocks on two threads against 15.9 ms with two.)
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

__all__ = ["RowBlocks", "num_threads", "PARALLEL_MIN_NNZ", "MAX_THREADS", "TRANSPOSE_BLOCKS"]

#: Matrices with fewer stored entries are multiplied in one piece: below ~1e6 entries a
#: product takes under a millisecond and handing it to threads costs more than it saves.
PARALLEL_MIN_NNZ = 2_000_000
#: Most threads used for one product.
MAX_THREADS = 8
#: Row blocks of ``P.T @ y`` for a matrix of at least :data:`PARALLEL_MIN_NNZ` entries.
TRANSPOSE_BLOCKS = 2

_pool: ThreadPoolExecutor | None = None


def num_threads() -> int:
    """Threads for the products: ``TABULAR_PG_NUM_THREADS`` if set, else the usable cores
    (at most :data:`MAX_THREADS`)."""
    env = os.environ.get("TABULAR_PG_NUM_THREADS")
    if env is not None:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"TABULAR_PG_NUM_THREADS must be a positive integer; got {env!r}")
        return min(int(env), MAX_THREADS)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, MAX_THREADS)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="tabular_pg-matvec")
    return _pool


def _forget_pool() -> None:
    """In a forked child: the parent's worker threads do not exist there, and a pool that
    believes they are idle would queue work forever; start a new one on first use."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _row_cuts(indptr: np.ndarray, k: int) -> np.ndarray:
    """Row boundaries ``(<= k + 1,)`` splitting the stored entries into ``k`` near-equal parts."""
    targets = np.linspace(0, indptr[-1], k + 1)[1:-1]
    return np.unique(np.concatenate([[0], np.searchsorted(indptr, targets), [indptr.size - 1]]))


def _csr_view(data, indices, indptr, shape) -> sp.csr_matrix:
    """A CSR matrix over these arrays, never copied.  (The ``(data, indices, indptr)``
    constructor copies a slice that is under half of its base array, ``_prune_array``.)"""
    view = sp.csr_matrix(shape, dtype=data.dtype)
    view.data, view.indices, view.indptr = data, indices, indptr.astype(indices.dtype, copy=False)
    return view


class RowBlocks:
    """A CSR matrix ``P (m, n)`` whose products run on threads over row blocks.

    Blocks hold about equal numbers of stored entries and are views of ``P``'s arrays (no
    copy).  ``P @ x`` stacks the blocks' products; ``P.T @ y`` (:meth:`rmatvec`) adds theirs
    in block order.  Matrices under :data:`PARALLEL_MIN_NNZ` entries are multiplied whole
    unless ``parallel=True``.

    Examples
    --------
    >>> P = sp.random(50, 40, density=0.2, format="csr", random_state=0)
    >>> B = RowBlocks(P, parallel=True)
    >>> x, y = np.arange(40.0), np.arange(50.0)
    >>> bool(np.array_equal(B @ x, P @ x)), bool(np.allclose(B.rmatvec(y), P.T @ y, rtol=1e-14))
    (True, True)
    """

    def __init__(self, P, parallel: bool | None = None):
        self.P = P if P.format == "csr" else sp.csr_matrix(P)
        self.shape, self.nnz = P.shape, P.nnz
        self.parallel = self.nnz >= PARALLEL_MIN_NNZ if parallel is None else parallel
        self._cache: dict[int, list] = {}
        self._transposed = self._blocks(TRANSPOSE_BLOCKS) if self.parallel else None

    def _blocks(self, k: int) -> list[tuple[int, int, sp.csr_matrix]]:
        """``(first row, end row, view)`` of ``k`` row blocks (cached)."""
        if k in self._cache:
            return self._cache[k]
        P, cuts = self.P, _row_cuts(self.P.indptr, k)
        out = []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            a, b = P.indptr[lo], P.indptr[hi]
            out.append((lo, hi, _csr_view(P.data[a:b], P.indices[a:b], P.indptr[lo:hi + 1] - a,
                                          (hi - lo, self.shape[1]))))
        self._cache[k] = out
        return out

    @staticmethod
    def _run(tasks: list) -> list:
        """Call each task, on up to :func:`num_threads` threads."""
        if min(num_threads(), len(tasks)) <= 1:
            return [task() for task in tasks]
        return list(_executor().map(lambda task: task(), tasks))

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """:math:`P x`, shape ``(m,)``; bit-identical to ``P @ x``."""
        threads = num_threads()
        if not self.parallel or threads == 1:
            return self.P @ x
        return np.concatenate(self._run([lambda B=B: B @ x for _, _, B in self._blocks(threads)]))

    def rmatvec(self, y: np.ndarray) -> np.ndarray:
        """:math:`P^\\top y`, shape ``(n,)``: :math:`\\sum_k P_k^\\top y_k` over the
        :data:`TRANSPOSE_BLOCKS` row blocks, added in block order."""
        if self._transposed is None:            # not parallel
            return self.P.T @ y
        parts = self._run([lambda B=B, lo=lo, hi=hi: B.T @ y[lo:hi] for lo, hi, B in self._transposed])
        out = parts[0]
        for part in parts[1:]:
            out += part
        return out
