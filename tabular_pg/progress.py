"""The one progress bar of tabular-pg: tqdm on stderr when installed, else silent.

:func:`progress` is used by :func:`tabular_pg.algorithms.run`, :func:`tabular_pg.sweep.sweep`
and the ``tabular-pg`` command.  tqdm is optional (the ``progress`` extra); without it, or
with ``enabled=False``, the bar is a pass-through that prints nothing.  This module imports
nothing from tabular_pg.
"""
from __future__ import annotations

import sys

__all__ = ["progress", "BAR_FORMAT"]

#: tqdm's default layout with the count ``n/total`` at the end of the line (as the sweep's
#: own bar had it) and the elapsed / remaining time and postfix (e.g. ``J=8.63``) before it.
BAR_FORMAT = "{l_bar}{bar}| [{elapsed}<{remaining}{postfix}] {n_fmt}/{total_fmt}"


class _Silent:
    """The pass-through: iterates over ``iterable``; ``update``, ``set_postfix`` and ``close`` do nothing."""

    def __init__(self, iterable, total):
        self.iterable, self.total = iterable, total

    def __iter__(self):
        return iter(() if self.iterable is None else self.iterable)

    def __len__(self):
        return len(self.iterable) if self.total is None else self.total

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n: int = 1) -> None:
        """Nothing to advance."""

    def set_postfix(self, *args, **kwargs) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


def progress(iterable=None, *, total: int | None = None, desc: str = "", enabled: bool = True):
    """``iterable`` (or a manual bar, with ``iterable=None``) with a progress bar on stderr.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; None for a bar advanced by hand with ``update(n)``.
    total : int, optional
        Number of steps (default: ``len(iterable)`` when it has one).
    desc : str
        Label in front of the bar.
    enabled : bool
        False: never draw (the caller decides, e.g. only when stderr is a terminal).

    Returns
    -------
    tqdm.tqdm or a silent pass-through
        Either way it iterates over ``iterable`` and has ``update``, ``set_postfix``,
        ``close`` and context-manager support.  The tqdm bar writes to ``sys.stderr`` (looked
        up at the call, so captured streams see it), ends its line with ``n/total``
        (:data:`BAR_FORMAT`), stays on screen when it is the outermost bar and is erased when
        nested (tqdm's ``leave=None``).

    Examples
    --------
    >>> list(progress(range(3), enabled=False))
    [0, 1, 2]
    >>> bar = progress(total=5, enabled=False); bar.update(2); bar.close()
    """
    if enabled:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=None,
                        bar_format=BAR_FORMAT)
    return _Silent(iterable, total)
