"""The input checks of the whole package, and its one read-only-copy helper.

Every public function validates its arguments at the boundary with these, so that bad
input fails with the same exception and the same wording wherever it enters: a wrong
*type* is a ``TypeError``, a wrong *value* (shape, sign, sum, range) a ``ValueError``;
each message names the argument, what was expected and what was found.  Nothing
downstream validates again, and nothing here fixes input silently.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

#: Rows of ``mu`` and policies must sum to 1 within this absolute tolerance; rows of ``P``
#: within :func:`transition_atol`, which is tighter when 1/(1 - gamma) or the horizon is long.
STOCHASTIC_ATOL = 1e-9
#: The floor of :func:`transition_atol`: a few thousand roundings of a float row sum.
TRANSITION_ATOL_FLOOR = 1e-12
_ComplexWarning = getattr(np, "exceptions", np).ComplexWarning     # numpy.exceptions from 1.25, numpy itself in 1.24

__all__ = ["STOCHASTIC_ATOL", "TRANSITION_ATOL_FLOOR", "transition_atol", "check_csr", "check_sparse_structure",
           "readonly", "sealed", "freeze_fields", "as_float_array", "check_real_sparse", "check_finite",
           "check_nonnegative", "check_distributions", "integer", "positive_int", "positive_number",
           "unit_interval", "real", "check_gamma", "check_horizon", "check_rng", "check_action_mask"]


def readonly(x) -> np.ndarray:
    """A read-only array that no caller can write through: results never alias a caller's array.

    A copy of ``x``, except when ``x`` is already a read-only array that owns its memory
    (one :func:`sealed` by the function that computed it), which nobody else holds.

    Examples
    --------
    >>> a = np.zeros(2); b = readonly(a); a[0] = 1.0
    >>> float(b[0]), b.flags.writeable
    (0.0, False)
    >>> c = sealed(x=np.ones(2))["x"]; readonly(c) is c
    True
    """
    if isinstance(x, np.ndarray) and not x.flags.writeable and x.flags.owndata:
        return x
    x = np.array(x, copy=True)
    x.setflags(write=False)
    return x


def sealed(**arrays) -> dict:
    """Mark arrays the calling function has just computed (and alone holds) read-only, in place.

    For results built from fresh arrays (an :class:`~tabular_pg.exact.Evaluation` at
    S = 10^6 holds ~120 MB that :func:`readonly` would otherwise copy; measured 0.35 s).
    Never for an array that came from a caller: those go through :func:`readonly`.
    """
    for x in arrays.values():
        if isinstance(x, np.ndarray):
            x.setflags(write=False)
    return arrays


def freeze_fields(obj, names=None) -> None:
    """Replace the array fields of the frozen dataclass ``obj`` by :func:`readonly` copies.

    Called from a result type's ``__post_init__``: every array it holds is read-only and
    none is the caller's.  ``names`` limits it to those fields (default: every field that
    holds an ``ndarray``).
    """
    names = names if names is not None else [k for k, v in vars(obj).items() if isinstance(v, np.ndarray)]
    for name in names:
        object.__setattr__(obj, name, readonly(getattr(obj, name)))


def as_float_array(name: str, x) -> np.ndarray:
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


def check_real_sparse(name: str, M) -> None:
    """TypeError unless the sparse matrix ``M`` holds real numbers."""
    if M.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got a sparse matrix of dtype {M.dtype}")


def _first(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_finite(name: str, arr: np.ndarray) -> None:
    """ValueError naming the first non-finite entry of ``arr``."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = _first(bad)
        raise ValueError(f"{name} must be finite; found {arr[idx]} at index {idx}")


def check_nonnegative(name: str, arr: np.ndarray) -> None:
    """ValueError naming the first negative entry of ``arr``."""
    neg = arr < 0
    if neg.any():
        idx = _first(neg)
        raise ValueError(f"{name} must be non-negative; found {arr[idx]} at index {idx}")


def check_distributions(name: str, arr: np.ndarray, sums: np.ndarray | None = None, labels=None,
                        atol: float = STOCHASTIC_ATOL) -> None:
    """ValueError unless ``arr`` holds probability distributions over its last axis.

    Finite, non-negative, and every row sums to 1 within ``atol`` (default
    :data:`STOCHASTIC_ATOL`).  ``sums``
    (the row sums, shape ``arr.shape[:-1]``) may be given when ``arr`` is only the non-zero
    data of a sparse matrix; ``labels`` names the axes of a row in the message
    (e.g. ``("s", "a")``).

    Examples
    --------
    >>> check_distributions("pi", np.array([[0.5, 0.5], [1.0, 0.1]]))
    Traceback (most recent call last):
    ...
    ValueError: pi rows must sum to 1 (within 1e-09); row (1,) sums to 1.1 (1 such rows)
    """
    check_finite(name, arr)
    check_nonnegative(name, arr)
    sums = np.asarray(arr.sum(axis=-1) if sums is None else sums)
    off = np.abs(sums - 1.0) > atol
    if off.ndim == 0 and off:
        raise ValueError(f"{name} must sum to 1 (within {atol:g}); it sums to {float(sums)!r}")
    if off.any():
        idx = _first(off)
        row = f"({', '.join(f'{k}={i}' for k, i in zip(labels, idx))})" if labels else str(idx)
        raise ValueError(f"{name} rows must sum to 1 (within {atol:g}); row {row} sums to "
                         f"{float(sums[idx])!r} ({int(off.sum())} such rows)")


def transition_atol(gamma: float, horizon: int | None) -> float:
    """The row-sum tolerance of ``P``: :data:`STOCHASTIC_ATOL` divided by the effective horizon.

    A row of ``P`` summing to :math:`1+\\epsilon` makes :math:`\\gamma P_\\pi` act like a
    discount :math:`\\gamma(1+\\epsilon)`, so values change by a relative
    :math:`\\lesssim \\epsilon T` with :math:`T = \\min(H, 1/(1-\\gamma))` the effective horizon
    (and are meaningless once :math:`\\gamma(1+\\epsilon) \\ge 1`).  Rows are therefore
    checked against :math:`\\max(10^{-9}/T, 10^{-12})` (``T = 1`` below one step): the
    relative error the rows can cause is at most ``1e-9`` while the tolerance exceeds the
    floor :data:`TRANSITION_ATOL_FLOOR`, and at most ``1e-12 T`` (``1e-12`` times the
    expected episode length when ``gamma = 1``) beyond.  Nothing is renormalised.

    Examples
    --------
    >>> [f"{transition_atol(g, H):.0e}" for g, H in [(0.9, None), (1 - 1e-10, None), (1.0, 5), (1.0, None)]]
    ['1e-10', '1e-12', '2e-10', '1e-12']
    """
    span = horizon if horizon is not None else np.inf
    if gamma < 1:
        span = min(span, 1.0 / (1.0 - gamma))
    return float(max(STOCHASTIC_ATOL / max(1.0, span), TRANSITION_ATOL_FLOOR))


def _index_array(name: str, x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(f"{name} must be a 1-D array of integers; got {arr.ndim}-D of dtype {arr.dtype}")
    return arr


def check_csr(name: str, data, indices, indptr, shape) -> tuple:
    """Validate the raw parts of a CSR matrix before anything (scipy, numpy) indexes with them.

    scipy accepts column indices out of range or negative and reads or writes out of
    bounds with them later (a segfault, or "double free or corruption").  Checked here:
    ``shape`` two integers >= 0, ``indices`` and ``indptr`` 1-D integer arrays,
    ``len(indptr) = shape[0] + 1``, ``indptr[0] = 0``, ``indptr`` non-decreasing,
    ``indptr[-1] = len(indices) = len(data)`` and every index in ``[0, shape[1])``.
    Unsorted and duplicate indices are valid CSR; the caller canonicalises them
    (duplicates add up).  Returns ``(indices, indptr, shape)`` as numpy arrays and a tuple.

    Examples
    --------
    >>> check_csr("P", [1., 1.], [10**9, 1], [0, 1, 2], [2, 2])
    Traceback (most recent call last):
    ...
    ValueError: P column indices must lie in [0, 2); found 1000000000 at position 0
    """
    shape_arr = np.asarray(shape)
    if shape_arr.shape != (2,) or shape_arr.dtype.kind not in "iu":
        raise TypeError(f"{name} shape must be two integers; got {shape!r:.80}")
    n_rows, n_cols = (int(n) for n in shape_arr)
    if n_rows < 0 or n_cols < 0:
        raise ValueError(f"{name} shape must be non-negative; got {(n_rows, n_cols)}")
    indices, indptr = _index_array(f"{name} indices", indices), _index_array(f"{name} indptr", indptr)
    nnz = len(np.asarray(data).reshape(-1))
    if indptr.size != n_rows + 1:
        raise ValueError(f"{name} indptr must have shape[0] + 1 = {n_rows + 1} entries; got {indptr.size}")
    if indptr[0] != 0 or indptr[-1] != indices.size or indices.size != nnz:
        raise ValueError(f"{name} indptr must run from 0 to len(indices) = len(data); got indptr from {indptr[0]} "
                         f"to {indptr[-1]}, {indices.size} indices, {nnz} values")
    if np.any(np.diff(indptr) < 0):
        row = int(np.argmax(np.diff(indptr) < 0))
        raise ValueError(f"{name} indptr must be non-decreasing; it decreases at row {row}")
    bad = (indices < 0) | (indices >= n_cols)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{name} column indices must lie in [0, {n_cols}); found {indices[k]} at position {k}")
    return indices, indptr, (n_rows, n_cols)


def check_sparse_structure(name: str, M) -> None:
    """ValueError unless the index arrays of the scipy sparse matrix ``M`` are in range.

    scipy does not check them on construction (nor after a caller edits ``M.indices``) and
    later reads or writes out of bounds; see :func:`~tabular_pg._checks.check_csr`.
    Compressed formats (CSR, CSC, BSR) and COO are checked; the others are converted by
    pure numpy code that checks its own indices.
    """
    fmt = M.format
    if fmt in ("csr", "csc", "bsr"):
        block = M.blocksize if fmt == "bsr" else (1, 1)
        major, minor = (M.shape[0], M.shape[1]) if fmt != "csc" else (M.shape[1], M.shape[0])
        major, minor = (major // block[0], minor // block[1]) if fmt == "bsr" else (major, minor)
        data = M.data if fmt != "bsr" else np.empty(len(M.indices))
        check_csr(name, data, M.indices, M.indptr, np.array([major, minor]))
    elif fmt == "coo":
        for label, idx, n in (("row", M.row, M.shape[0]), ("column", M.col, M.shape[1])):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"{name} {label} indices must lie in [0, {n}); found {idx.min()}..{idx.max()}")


def integer(name: str, x, minimum: int, expected: str = "") -> int:
    """``x`` as an int >= ``minimum``: TypeError if it is not an integer (bools are not), else ValueError.

    ``expected`` replaces the default wording ``"an int >= minimum"`` of the message.
    """
    expected = expected or f"an int >= {minimum}"
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be {expected}; got {type(x).__name__} {x!r}")
    if x < minimum:
        raise ValueError(f"{name} must be {expected}; got {x!r}")
    return int(x)


def positive_int(name: str, x, expected: str = "") -> int:
    """``x`` as an int >= 1 (see :func:`integer`)."""
    return integer(name, x, 1, expected)


def real(name: str, x) -> float:
    """``x`` as a float: TypeError naming ``name`` unless it is a real number (bools, strings and None are not)."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {type(x).__name__} {x!r}")
    return float(x)


def positive_number(name: str, x, allow_zero: bool = False) -> float:
    """``x`` as a finite float > 0 (>= 0 with ``allow_zero``): TypeError for a non-number, else ValueError."""
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a finite number {bound}; got {type(x).__name__} {x!r}")
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {bound}; got {x!r}")
    return float(x)


def unit_interval(name: str, x) -> float:
    """``x`` as a float in [0, 1]: TypeError for a non-number, else ValueError."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number in [0, 1]; got {type(x).__name__} {x!r}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1]; got {x!r}")
    return float(x)


def check_gamma(gamma) -> float:
    """The discount as a float in [0, 1]: TypeError unless it is a real number (bools, strings
    and 0-d arrays of them are not), else ValueError (also for integers too large for a float)."""
    if isinstance(gamma, np.ndarray) and gamma.ndim == 0:
        gamma = gamma[()]
    if isinstance(gamma, (bool, np.bool_)) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        raise TypeError(f"gamma must be a real number in [0, 1]; got {type(gamma).__name__} {gamma!r:.80}")
    try:
        g = float(gamma)
    except OverflowError:
        raise ValueError(f"gamma must lie in [0, 1]; got an integer of {len(str(gamma))} digits") from None
    if not (0.0 <= g <= 1.0):
        raise ValueError(f"gamma must lie in [0, 1]; got {gamma!r}")
    return g


def check_horizon(horizon) -> int | None:
    """``None`` (infinite horizon) or an int >= 1 (see :func:`integer`)."""
    return None if horizon is None else integer("horizon", horizon, 1, "None or an int >= 1")


def check_rng(rng) -> np.random.Generator:
    """TypeError unless ``rng`` is a ``numpy.random.Generator`` (no global seeding anywhere)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    return rng


def check_action_mask(mask, n_states: int, n_actions: int, name: str = "mask") -> np.ndarray:
    """A read-only bool ``(S, A)`` mask of feasible actions, each state keeping at least one.

    TypeError unless ``mask`` holds booleans (or 0/1 integers); ValueError for another
    shape or a state without a feasible action (the first such state is named).

    Examples
    --------
    >>> check_action_mask([[True, False], [False, False]], 2, 2)
    Traceback (most recent call last):
    ...
    ValueError: mask must leave every state a feasible action; state 1 has none (1 such states)
    """
    raw = np.asarray(mask)
    if raw.dtype != bool and not (raw.dtype.kind in "iu" and np.isin(raw, (0, 1)).all()):
        raise TypeError(f"{name} must be an array of booleans (True = feasible); got dtype {raw.dtype}")
    if raw.shape != (n_states, n_actions):
        raise ValueError(f"{name} must have shape (S, A) = {(n_states, n_actions)}; got {raw.shape}")
    empty = ~raw.astype(bool).any(axis=1)
    if empty.any():
        raise ValueError(f"{name} must leave every state a feasible action; state {int(np.argmax(empty))} has none "
                         f"({int(empty.sum())} such states)")
    return readonly(raw.astype(bool))
