"""Linear solves of ``M x = b`` and ``M^T y = c`` for ``M = I - gamma P_pi``.

One factorisation (or preconditioner) serves both the value equation
:math:`(I-\\gamma P_\\pi)V = r_\\pi` and the transposed visitation equation
:math:`(I-\\gamma P_\\pi)^\\top \\tilde d = \\mu`.  The solver is chosen for the matrix:

* ``dense``  — LAPACK LU (``scipy.linalg.lu_factor``) when ``S <= DENSE_MAX``;
* ``splu``   — sparse LU (SuperLU, COLAMD ordering) when a reverse Cuthill–McKee ordering
  shows a small bandwidth, so that the factor stays sparse (chains, grids);
* ``gmres``  — restarted GMRES with a Jacobi preconditioner and iterative refinement in
  float64, for large random MDPs where LU fill explodes.  (BiCGSTAB was measured to break
  down on the transposed system of random MDPs; GMRES does not.)
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import reverse_cuthill_mckee

__all__ = ["ConvergenceWarning", "PrecisionWarning", "Factorization", "factorize", "DENSE_MAX",
           "RESIDUAL_WARN"]

#: Largest S solved with dense LU.
DENSE_MAX = 2000
#: A relative residual above this triggers a :class:`PrecisionWarning`.
RESIDUAL_WARN = 1e-10
#: Banded fill ``S * bandwidth`` allowed for sparse LU, in units of ``nnz(M)``.
SPLU_FILL_RATIO = 20
_GMRES_RTOL = 1e-13
_MAX_REFINE = 6


class ConvergenceWarning(UserWarning):
    """An iterative method stopped before reaching its tolerance."""


class PrecisionWarning(UserWarning):
    """A result's measured relative residual exceeds :data:`RESIDUAL_WARN`."""


def relative_residual(M, x: np.ndarray, b: np.ndarray) -> float:
    """:math:`\\|b - Mx\\|_\\infty / \\|b\\|_\\infty` (absolute when ``b = 0``)."""
    r = np.abs(b - M @ x).max(initial=0.0)
    nb = np.abs(b).max(initial=0.0)
    return float(r / nb) if nb > 0 else float(r)


@dataclass
class Factorization:
    """Solves with ``M`` and ``M^T``; ``name`` says which method was chosen."""

    M: object
    name: str
    _lu: object = field(default=None, repr=False)
    _jacobi: np.ndarray | None = field(default=None, repr=False)

    def solve(self, b: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``x`` with ``M x = b`` (``M^T x = b`` if ``transpose``)."""
        if self.name == "dense":
            return sla.lu_solve(self._lu, b, trans=1 if transpose else 0, check_finite=False)
        if self.name == "splu":
            return self._lu.solve(b, trans="T" if transpose else "N")
        return self._gmres(b, transpose)

    def _gmres(self, b: np.ndarray, transpose: bool) -> np.ndarray:
        M = self.M.T.tocsr() if transpose else self.M
        nb = np.abs(b).max(initial=0.0)
        x = np.zeros_like(b)
        if nb == 0:
            return x
        precond = spla.LinearOperator(M.shape, matvec=lambda v: v / self._jacobi, dtype=float)
        for _ in range(_MAX_REFINE):
            r = b - M @ x
            if np.abs(r).max() <= _GMRES_RTOL * nb:
                return x
            dx, _ = spla.gmres(M, r, rtol=_GMRES_RTOL, atol=0.0, restart=60, maxiter=200, M=precond)
            x = x + dx
        res = np.abs(b - M @ x).max() / nb
        if res > RESIDUAL_WARN:
            warnings.warn(f"GMRES with refinement stopped at relative residual {res:.2e}",
                          ConvergenceWarning, stacklevel=3)
        return x


def rcm_bandwidth(M: sp.spmatrix) -> int:
    """Bandwidth of ``M`` after a reverse Cuthill–McKee reordering of ``M + M^T``."""
    pattern = (abs(M) + abs(M.T)).tocsr()
    perm = reverse_cuthill_mckee(pattern, symmetric_mode=True)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    coo = pattern.tocoo()
    return int(np.abs(inv[coo.row] - inv[coo.col]).max(initial=0))


def choose_solver(M) -> str:
    """``'dense'``, ``'splu'`` or ``'gmres'`` for the ``(S, S)`` matrix ``M``."""
    S = M.shape[0]
    if S <= DENSE_MAX:
        return "dense"
    if S * rcm_bandwidth(M) <= SPLU_FILL_RATIO * M.nnz:
        return "splu"
    return "gmres"


def factorize(M, solver: str = "auto") -> Factorization:
    """Factorise (or precondition) ``M (S, S)``, dense ndarray or sparse.

    Parameters
    ----------
    M : ndarray or scipy.sparse matrix, shape (S, S)
    solver : {'auto', 'dense', 'splu', 'gmres'}

    Examples
    --------
    >>> M = np.array([[2., 1.], [0., 1.]])
    >>> f = factorize(M)
    >>> f.name, f.solve(np.array([3., 1.])).tolist(), f.solve(np.array([2., 2.]), transpose=True).tolist()
    ('dense', [1.0, 1.0], [1.0, 1.0])
    """
    if solver not in ("auto", "dense", "splu", "gmres"):
        raise ValueError(f"solver must be one of 'auto', 'dense', 'splu', 'gmres'; got {solver!r}")
    if solver == "auto":
        solver = "dense" if not sp.issparse(M) else choose_solver(M)
    if solver == "dense":
        dense = M.toarray() if sp.issparse(M) else np.asarray(M)
        return Factorization(dense, "dense", _lu=sla.lu_factor(dense, check_finite=False))
    Ms = sp.csc_matrix(M)
    if solver == "splu":
        return Factorization(Ms.tocsr(), "splu", _lu=spla.splu(Ms))
    Mr = Ms.tocsr()
    return Factorization(Mr, "gmres", _jacobi=Mr.diagonal())
