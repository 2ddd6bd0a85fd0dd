"""Linear solves of ``M x = b`` and ``M^T y = c`` for ``M = I - gamma P_pi``.

One factorisation (or preconditioner) serves both the value equation
:math:`(I-\\gamma P_\\pi)V = r_\\pi` and the transposed visitation equation
:math:`(I-\\gamma P_\\pi)^\\top \\tilde d = \\mu`.  The solver is chosen for the matrix:

* ``dense``  — LAPACK LU (``scipy.linalg.lu_factor``) when ``S <= DENSE_MAX``;
* ``splu``   — sparse LU (SuperLU, COLAMD ordering) when the matrix is banded in its own
  state ordering (chains, row-major grids), so that the factor stays sparse;
* ``gmres``  — restarted GMRES with iterative refinement on the float64 residual, for
  large random MDPs where LU fill explodes (random 1e4-state MDPs: ``splu`` 57 s).  (BiCGSTAB was measured to break
  down on the transposed system of random MDPs; GMRES does not.)
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from tabular_pg.exact.blas import one_blas_thread
from tabular_pg.exact.fixed_point import REFINED_RTOL, RESIDUAL_WARN, converged, extrapolated_iteration, max_abs  # noqa: F401 (RESIDUAL_WARN re-exported)
from tabular_pg.exact.matvec import RowBlocks

__all__ = ["ConvergenceWarning", "PrecisionWarning", "Factorization", "DirectSolver", "KrylovSolver", "direct_solver",
           "factorize", "DENSE_MAX",
           "RESIDUAL_WARN", "IdentityMinusGammaP", "CountedProducts", "choose_solver", "sparse_lu"]

#: Largest S solved with dense LU.
DENSE_MAX = 2000
#: Largest S solved with dense LU when gamma < 1 is known (see :func:`choose_solver`).
KRYLOV_MIN = 300
#: Tolerance of each inner GMRES run.  Asking GMRES itself for 1e-13 makes it stagnate
#: near gamma = 1 (measured: 8177 iterations, 11 s at S = 1e4, gamma = 0.9999, versus 24
#: iterations, 10 ms, at 1e-10 followed by one refinement step).
_INNER_RTOL = 1e-10
_MAX_REFINE = 20
#: A refinement cycle that shrinks the residual by less than this factor has stagnated.
_STALL = 0.1
#: Krylov dimension of one GMRES cycle.
_RESTART = 40


class ConvergenceWarning(UserWarning):
    """An iterative method stopped before reaching its tolerance."""


class PrecisionWarning(UserWarning):
    """A result's measured relative residual exceeds :data:`RESIDUAL_WARN`."""


def relative_residual(M, x: np.ndarray, b: np.ndarray) -> float:
    """:math:`\\|b - Mx\\|_\\infty / \\|b\\|_\\infty` (absolute when ``b = 0``)."""
    r = np.abs(b - M @ x).max(initial=0.0)
    nb = np.abs(b).max(initial=0.0)
    return float(r / nb) if nb > 0 else float(r)


def inner_rtol(gamma: float | None) -> float:
    """Tolerance of each inner GMRES run for ``M = I - gamma P``.

    GMRES cannot reach a relative residual much below ``eps * cond(M)``, and
    ``cond_inf(I - gamma P) <= (1 + gamma) / (1 - gamma)``; asking for less makes it
    stagnate (measured: 8177 iterations, 11 s, at S = 1e4, gamma = 0.9999 and 1e-12, versus
    24 iterations, 10 ms, at 1e-10).  Refinement with the true residual does the rest.
    """
    if gamma is None or gamma >= 1:
        return 1e-10
    cond = (1 + gamma) / (1 - gamma)
    return float(np.clip(50 * np.finfo(float).eps * cond, 1e-12, 1e-8))


@dataclass(frozen=True)
class DirectSolver:
    """Solves with ``M`` and ``M^T`` from one LU factorisation: ``name`` is ``'dense'``
    (LAPACK, ``lu`` from ``scipy.linalg.lu_factor``) or ``'splu'`` (SuperLU, :func:`sparse_lu`)."""

    M: Any            # the (S, S) matrix: numpy array or scipy sparse
    name: str
    lu: Any = field(repr=False)

    @one_blas_thread()
    def solve(self, b: np.ndarray, transpose: bool = False, x0: np.ndarray | None = None) -> np.ndarray:
        """``x`` with ``M x = b`` (``M^T x = b`` if ``transpose``); ``x0`` is not needed."""
        if self.name == "dense":
            return sla.lu_solve(self.lu, b, trans=1 if transpose else 0, check_finite=False)
        return self.lu.solve(b, trans="T" if transpose else "N")

    @one_blas_thread()
    def solve_with_residual(self, b: np.ndarray, transpose: bool = False,
                            x0: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """``(x, relative_residual(M, x, b))`` of :meth:`solve`."""
        x = self.solve(b, transpose)
        return x, relative_residual(self.M.T if transpose else self.M, x, b)

    @property
    def shape(self) -> tuple[int, int]:
        return self.M.shape

    @property
    def products(self) -> tuple[int, int]:
        """``(0, 0)``: a factorisation makes no sparse products (see :attr:`KrylovSolver.products`)."""
        return (0, 0)


@one_blas_thread()
def direct_solver(M, name: str, gamma: float | None = None) -> DirectSolver:
    """Factorise ``M`` with dense LU (``name='dense'``) or SuperLU (``name='splu'``)."""
    if name == "dense":
        dense = M.toarray() if sp.issparse(M) else np.asarray(M)
        return DirectSolver(dense, "dense", sla.lu_factor(dense, check_finite=False))
    return DirectSolver(sp.csr_matrix(M), "splu", sparse_lu(sp.csc_matrix(M), gamma))


class KrylovSolver:
    """Restarted GMRES with iterative refinement for ``M = I - gamma P`` (matrix-free or sparse).

    Where it cannot converge (the fixed-point iteration mixes too slowly on a small system,
    or restarted GMRES stagnates) it factorises ``M`` once (:meth:`fallback_solver`) and
    solves directly from then on; ``name`` is then that direct solver's.
    """

    def __init__(self, M, gamma: float | None = None):
        self.M, self.gamma, self.rtol = M, gamma, inner_rtol(gamma)
        self._operator = M if isinstance(M, IdentityMinusGammaP) else CountedProducts(M)
        self.fallback: DirectSolver | None = None

    @property
    def products(self) -> tuple[int, int]:
        """``(forward, transposed)``: products with ``M`` and ``M^T`` made so far (each one
        sparse product with :math:`P_\\pi`), the fixed-point steps, GMRES's and the
        residuals' alike; the cost measure of the Krylov path."""
        return tuple(self._operator.counts)

    @property
    def name(self) -> str:
        return "gmres" if self.fallback is None else self.fallback.name

    @property
    def shape(self) -> tuple[int, int]:
        return self.M.shape

    def solve(self, b: np.ndarray, transpose: bool = False, x0: np.ndarray | None = None) -> np.ndarray:
        """``x`` with ``M x = b`` (``M^T x = b`` if ``transpose``), from the guess ``x0``."""
        return self.solve_with_residual(b, transpose, x0)[0]

    @one_blas_thread()
    def solve_with_residual(self, b: np.ndarray, transpose: bool = False,
                            x0: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """``(x, relative residual)``: GMRES returns the float64 residual of its own last
        convergence test instead of one more product."""
        if self.fallback is not None:
            return self.fallback.solve_with_residual(b, transpose)
        return self._gmres(self._operator.T if transpose else self._operator, b, transpose, x0)

    def _gmres(self, M, b: np.ndarray, left: bool, x0: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """Restarted GMRES plus iterative refinement on the float64 residual; ``(x, relative residual)``."""
        nb = max_abs(b)
        x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=float)
        if nb == 0:
            return np.zeros_like(b), 0.0
        if self.gamma is not None and 0 < self.gamma < 1:
            x = extrapolated_iteration(M, b, self.gamma, left=left, x0=x0)
            if M.shape[0] <= DENSE_MAX and not converged(b - M @ x, x, nb):
                return self.fallback_solver().solve_with_residual(b, left)
        previous = np.inf
        for _ in range(_MAX_REFINE):
            r = b - M @ x
            nr = max_abs(r)
            if converged(r, x, nb):
                return x, nr / nb
            if nr > _STALL * previous:      # restarted GMRES stagnates (slow mixing)
                if nr <= RESIDUAL_WARN * nb:
                    return x, nr / nb
                return self.fallback_solver().solve_with_residual(b, left)
            previous = nr
            x = x + gmres_cycle(M, r, self.rtol, atol=0.5 * REFINED_RTOL * nb)
        res = max_abs(b - M @ x) / nb
        if res > RESIDUAL_WARN:
            warnings.warn(f"GMRES with refinement stopped at relative residual {res:.2e}",
                          ConvergenceWarning, stacklevel=4)
        return x, res

    def fallback_solver(self) -> DirectSolver:
        """LU from now on — dense up to :data:`DENSE_MAX` states, else sparse
        (:func:`sparse_lu`) — for a system on which the fixed-point iteration mixed slowly
        (small ones) or restarted GMRES stagnated.  Measured: on a directed cycle through
        3000 states in random order at gamma = 0.99 (eigenvalues on a circle about 1),
        GMRES(40) with refinement stopped at a relative residual of 5e-5; its sparse LU
        has no fill."""
        if self.fallback is None:
            M, S = self.M, self.shape[0]
            if isinstance(M, IdentityMinusGammaP):
                P_pi = M.P_pi if sp.issparse(M.P_pi) else sp.csr_matrix(M.P_pi)
                M = (sp.identity(S, format="csr") - M.gamma * P_pi).tocsr()
            self.fallback = direct_solver(M, "dense" if S <= DENSE_MAX else "splu", self.gamma)
        return self.fallback


#: What :func:`factorize` returns.
Factorization = DirectSolver | KrylovSolver


def gmres_cycle(M, r: np.ndarray, rtol: float, atol: float = 0.0, m: int = _RESTART) -> np.ndarray:
    """One GMRES cycle (Saad & Schultz 1986): the ``dx`` in ``K_m(M, r)`` minimising
    :math:`\\|r - M\\,dx\\|_2`, stopping early once that is below
    ``max(rtol * ||r||_2, atol)`` (the 2-norm bounds the max-norm, so ``atol`` is a
    max-norm guarantee).

    Arnoldi with classical Gram–Schmidt applied twice (numerically as good as modified
    Gram–Schmidt, and two BLAS-2 products per step); the small least-squares problem is
    solved every few steps.  Written out because scipy's GMRES spends more time in
    Python per iteration than a sparse matvec of a 1e4-state MDP costs.
    """
    beta = float(np.linalg.norm(r))
    basis = np.empty((m + 1, r.size))
    H = np.zeros((m + 1, m))
    basis[0] = r / beta
    e1 = np.zeros(m + 1)
    e1[0] = beta
    for j in range(m):
        w = M @ basis[j]
        for _ in range(2):
            h = basis[: j + 1] @ w
            w -= h @ basis[: j + 1]
            H[: j + 1, j] += h
        H[j + 1, j] = np.linalg.norm(w)
        breakdown = H[j + 1, j] <= 1e-14 * np.abs(H[: j + 1, j]).max()
        if breakdown or j == m - 1 or j % 2 == 1:
            y, *_ = np.linalg.lstsq(H[: j + 2, : j + 1], e1[: j + 2], rcond=None)
            res = np.linalg.norm(H[: j + 2, : j + 1] @ y - e1[: j + 2])
            if breakdown or j == m - 1 or res <= max(rtol * beta, atol):
                return y @ basis[: j + 1]
        basis[j + 1] = w / H[j + 1, j]
    return y @ basis[:m]  # pragma: no cover - the loop always returns at j == m - 1


class IdentityMinusGammaP:
    """The operator :math:`I - \\gamma P_\\pi` (or its transpose) applied without forming it.

    ``P_pi`` may be a CSR matrix in non-canonical form (duplicate, unsorted entries), which
    sparse matvecs accept: canonicalising it and subtracting it from the identity costs
    as much as the whole Krylov solve at S = 1e5 (measured 48 ms against 1.5 ms a matvec).
    """

    def __init__(self, P_pi, gamma: float, transpose: bool = False, _blocks: RowBlocks | None = None,
                 _counts: list | None = None):
        self.P_pi, self.gamma, self.transpose = P_pi, gamma, transpose
        self.shape = P_pi.shape
        self._blocks = _blocks if _blocks is not None or not sp.issparse(P_pi) else RowBlocks(P_pi)
        #: ``[forward, transposed]`` products so far, shared with :attr:`T`.
        self.counts = [0, 0] if _counts is None else _counts

    @property
    def T(self) -> IdentityMinusGammaP:
        return IdentityMinusGammaP(self.P_pi, self.gamma, not self.transpose, self._blocks, self.counts)

    def gamma_P(self, x: np.ndarray) -> np.ndarray:
        """:math:`\\gamma P_\\pi x` (or :math:`\\gamma P_\\pi^\\top x`), a new array, on threads for large
        :math:`P_\\pi` (:class:`tabular_pg.exact.matvec.RowBlocks`)."""
        self.counts[self.transpose] += 1
        if self._blocks is None:
            Px = (self.P_pi.T if self.transpose else self.P_pi) @ x
        else:
            Px = self._blocks.rmatvec(x) if self.transpose else self._blocks @ x
        Px *= self.gamma
        return Px

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """:math:`x - \\gamma P_\\pi x` (or its transpose), shape ``(S,)``."""
        return x - self.gamma_P(x)


class CountedProducts:
    """A matrix ``M`` (or its transpose) that counts its products ``M @ x`` in ``counts``
    (``[forward, transposed]``, shared with :attr:`T`), as :class:`IdentityMinusGammaP` does."""

    def __init__(self, M, transpose: bool = False, counts: list | None = None):
        self.M, self.transpose, self.shape = M, transpose, M.shape
        self.counts = [0, 0] if counts is None else counts

    @property
    def T(self) -> CountedProducts:
        return CountedProducts(self.M, not self.transpose, self.counts)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        self.counts[self.transpose] += 1
        return (self.M.T if self.transpose else self.M) @ x


def choose_solver(S: int, bandwidth: int, gamma: float | None = None) -> str:
    """``'dense'``, ``'splu'`` or ``'gmres'`` for an ``(S, S)`` system ``I - gamma P`` with this pattern.

    Sparse LU when the matrix is banded in its state order — ``bandwidth <= 2 sqrt(S)``
    covers chains and row-major 2-D grids, whose LU fill stays near ``S log S`` — and
    restarted GMRES otherwise (random MDPs, whose LU fill explodes).  Measured on a
    slippery grid at gamma = 0.99 (``bench/exact_scaling.py``, V, Q, A, d and J), both in the
    same session: sparse LU 0.05 / 0.9 / 16 s at S = 1e4 / 1e5 / 1e6 against GMRES
    0.35 / 3.8 / 56 s (a slow day of the machine: sparse LU took 0.25 s and 5.1 s at
    1e5 and 1e6 in ``bench/RESULTS.md``).

    Dense LU up to ``DENSE_MAX`` states unless ``gamma < 1`` is given; then only up to
    :data:`KRYLOV_MIN`, since on a sparse garnet (4 actions, 5 successors, one BLAS thread)
    the Krylov path takes 2.8 / 4.5 ms at S = 1000 / 2000 against 47 / 162 ms for dense
    LU.  A small system on which the fixed-point iteration stalls switches to dense LU, and
    a large one on which restarted GMRES stagnates to sparse LU
    (:meth:`Factorization._switch_to_direct`), so slow mixing costs at most a few matvecs.
    """
    small = KRYLOV_MIN if gamma is not None and gamma < 1 else DENSE_MAX
    if S <= small:
        return "dense"
    if bandwidth <= 2 * np.sqrt(S):
        return "splu"
    return "gmres"


def _bandwidth(M: sp.spmatrix) -> int:
    coo = M.tocoo()
    return int(np.abs(coo.row - coo.col).max(initial=0))


def sparse_lu(M: sp.csc_matrix, gamma: float | None = None):
    """SuperLU factors of ``M``, ordered by minimum degree on :math:`M + M^\\top`.

    ``M = I - gamma P`` is structurally near-symmetric (a grid's moves go both ways), and
    minimum degree on :math:`M+M^\\top` halves the fill of COLAMD on slippery grids
    (measured at S = 1e5: 5.6e6 against 1.0e7 entries in L + U, factor 1.5 s against 2.2 s).
    With ``gamma < 1``, ``M`` is strictly diagonally dominant by rows
    (:math:`1-\\gamma p_{ss} - \\gamma\\sum_{t\\ne s}p_{st} = 1-\\gamma > 0`), so elimination
    without pivoting is stable (growth factor <= 2; Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2002, Thm 9.9) and the symmetric
    mode keeps the ordering; otherwise SuperLU pivots as usual.
    """
    if gamma is not None and gamma < 1:
        return spla.splu(M, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                         options={"SymmetricMode": True})
    return spla.splu(M, permc_spec="MMD_AT_PLUS_A")


def factorize(M, solver: str = "auto", gamma: float | None = None) -> Factorization:
    """Factorise (or precondition) ``M (S, S)``, dense ndarray or sparse.

    Parameters
    ----------
    M : ndarray, scipy.sparse matrix or IdentityMinusGammaP, shape (S, S)
    solver : {'auto', 'dense', 'splu', 'gmres'}
    gamma : float, optional
        When ``M = I - gamma P``, sets the inner GMRES tolerance (:func:`inner_rtol`).

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
        solver = "gmres" if isinstance(M, IdentityMinusGammaP) else "dense" if not sp.issparse(M) \
            else choose_solver(M.shape[0], _bandwidth(M), gamma)
    if isinstance(M, IdentityMinusGammaP):
        if solver != "gmres":
            raise ValueError(f"a matrix-free operator can only be solved with 'gmres'; got {solver!r}")
        return KrylovSolver(M, gamma)
    if solver == "gmres":
        return KrylovSolver(sp.csr_matrix(M), gamma)
    return direct_solver(M, solver, gamma)
