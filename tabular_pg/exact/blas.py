"""One BLAS thread inside the library's dense linear algebra: the same bits on every machine, no stalls.

A multi-threaded BLAS splits a product's sums over its threads, so the rounding depends
on the thread count: with ``OPENBLAS_NUM_THREADS`` 1 against 2, V differed by 8e-16, the
gradient by 3e-11 and the natural gradient by 1e-10 on the dense path.  Threads also cost
more than they bring on the library's small systems: 1,000 dense evaluations at S = 200
took 3.7–71 s with numpy's default 2-thread OpenBLAS on a busy 2-core machine instead of
~0.6 s with one thread.  :func:`one_blas_thread` (a decorator and a context manager) sets
every loaded BLAS to one thread for the duration of a call (``threadpoolctl``) and restores
the caller's setting afterwards.

The setting is process-wide, so it is counted: the first call to enter pins, nested calls
and calls on other threads only count, and the last to leave restores; while any thread
is inside, BLAS runs on one thread everywhere in the process.  Entering costs a few
microseconds: the libraries are looked up once (``threadpoolctl.threadpool_limits`` looks
them up on every entry, measured 0.72 ms, more than a dense evaluation at S = 200), so a
BLAS library loaded after the first call is not pinned.
"""
from __future__ import annotations

import ctypes
import os
import threading
from contextlib import ContextDecorator
from typing import Literal

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread", "blas_thread_counts"]

_lock = threading.Lock()
#: Entries per thread (``threading.get_ident``) of the calls now inside :func:`one_blas_thread`.
_inside: dict[int, int] = {}
_saved: list = []
_libraries: list | None = None


def _setter(lib):
    """A function setting ``lib``'s thread count from any thread.

    OpenBLAS (0.3.30, 0.3.31 measured) ignores ``openblas_set_num_threads`` called from a
    thread other than the main one once the main thread has called it; its
    ``openblas_set_num_threads_local`` (OpenBLAS >= 0.3.27) works from every thread.
    """
    local = getattr(lib.dynlib, "openblas_set_num_threads_local", None) if lib.internal_api == "openblas" else None
    if local is None:
        return lib.set_num_threads
    local.argtypes, local.restype = [ctypes.c_int], ctypes.c_int
    return local


def _blas_libraries() -> list:
    """``(controller, setter)`` of every loaded BLAS library (threadpoolctl), looked up once."""
    global _libraries
    if _libraries is None:
        _libraries = [(lib, _setter(lib)) for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _libraries


def blas_thread_counts() -> list[int]:
    """The current thread count of each BLAS library the pinning controls."""
    return [lib.get_num_threads() for lib, _ in _blas_libraries()]


def _pin() -> None:
    _saved[:] = [(set_threads, lib.get_num_threads()) for lib, set_threads in _blas_libraries()]
    for set_threads, _ in _saved:
        set_threads(1)


def _restore() -> None:
    for set_threads, n in _saved:
        set_threads(n)
    _saved.clear()


class one_blas_thread(ContextDecorator):
    """Run the block (or the decorated function) with every BLAS library on one thread.

    Examples
    --------
    >>> with one_blas_thread():
    ...     set(blas_thread_counts()) <= {1}
    True
    """

    def __enter__(self) -> one_blas_thread:
        me = threading.get_ident()
        with _lock:
            if not _inside:
                _pin()
            _inside[me] = _inside.get(me, 0) + 1
        return self

    def __exit__(self, *exc) -> Literal[False]:
        me = threading.get_ident()
        with _lock:
            _inside[me] -= 1
            if not _inside[me]:
                del _inside[me]
                if not _inside:
                    _restore()
        return False


def _after_fork_in_child() -> None:
    """Only the forking thread survives a fork: forget the others' entries (and restore
    the setting if none is left), and replace a lock another thread may have held."""
    global _lock
    _lock = threading.Lock()
    me = threading.get_ident()
    for ident in [i for i in _inside if i != me]:
        del _inside[ident]
    if not _inside and _saved:
        _restore()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
