"""The one Fisher matrix and natural-gradient solve, shared by the exact, oracle and sampled paths.

A policy's Fisher matrix for state weights :math:`w(s)` (Kakade 2001, "A Natural Policy
Gradient", eq. 4 ff.) is

.. math:: F = \\sum_s w(s)\\, \\mathbb E_{a\\sim\\pi(\\cdot|s)}[\\psi(s,a)\\psi(s,a)^\\top],
          \\qquad \\psi = \\nabla_\\theta\\log\\pi_\\theta(a|s),

with the expectation over actions taken analytically.  ``w = d`` gives the exact Fisher
matrix; ``w`` = the sampled (discounted) visitation gives the sampled Fisher matrix of
Kakade (2001) and TRPO (Schulman et al. 2015, "Trust Region Policy Optimization", §5,
the analytic estimator of the KL Hessian at the sampled states).  A tabular softmax or a
Direct policy has one ``(A, A)`` block per (step,) state; a LogLinear policy shares its
parameters across states and gets the dense ``(d, d)`` matrix.  :class:`FisherMatrix`
holds either, so nothing on the algorithm path builds a dense ``(SA, SA)`` matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from scipy import special

from tabular_pg._checks import readonly, real
from tabular_pg.exact.blas import one_blas_thread
from tabular_pg.policies import Direct, Policy, TabularSoftmax

__all__ = ["FISHER_RCOND", "FisherMatrix", "fisher_matrix", "block_pinv_solve", "kl_rows", "check_damping"]

#: Eigenvalues of the Fisher matrix below this fraction of its largest are treated as zero.
FISHER_RCOND = 1e-10


def check_damping(damping) -> float:
    """``damping`` as a finite float >= 0; TypeError for a non-number, ValueError otherwise."""
    real("damping", damping)
    if not (np.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0; got {damping!r}")
    return float(damping)


def block_pinv_solve(blocks: np.ndarray, g: np.ndarray, damping: float = 0.0) -> np.ndarray:
    """:math:`F^+g` (or :math:`(F+\\lambda I)^{-1}g`) for a block-diagonal ``F`` given by ``blocks (M, A, A)``.

    The cut-off is relative to the largest eigenvalue of the whole ``F``, exactly as
    ``numpy.linalg.pinv(F, rcond=FISHER_RCOND, hermitian=True)`` would apply it, not to
    each block: a saturated or never-visited state's block of round-off is not inverted
    (a per-block cut-off overflowed there), and the result equals the dense pseudo-inverse.
    Costs ``O(M A^3)`` instead of ``O((MA)^3)``; ``g`` has shape ``(M*A,)``, so does the result.
    """
    M, A, _ = blocks.shape
    vals, vecs = np.linalg.eigh(blocks + damping * np.eye(A))          # (M, A), (M, A, A)
    keep = vals > (FISHER_RCOND * vals.max(initial=0.0) if damping == 0 else 0.0)
    inv = np.divide(1.0, vals, out=np.zeros_like(vals), where=keep)
    coef = inv * np.einsum("mba,mb->ma", vecs, g.reshape(M, A))
    return np.einsum("mab,mb->ma", vecs, coef).reshape(-1)


def kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:math:`\\sum_a [p\\log(p/q) - p + q]` over the last axis; 0 log 0 = 0, p > 0 = q gives inf.

    Equal to :math:`\\sum_a p\\log(p/q)` for rows that sum to 1 (up to the difference of the
    row sums, within the tolerance the policies were validated with), and every term is
    :math:`\\ge 0` (:math:`x\\log(x/y) \\ge x - y`), so the sum never rounds below 0: the plain
    form gave -6e-28 for two near-deterministic rows (``scipy.special.kl_div``).
    """
    return special.kl_div(p, q).sum(axis=-1)


@dataclass(frozen=True, eq=False)
class FisherMatrix:
    """A Fisher matrix as per-state ``blocks (M, A, A)`` or as a ``dense (d, d)`` matrix.

    ``matrix.ndim == 3``: block diagonal, ``d = M A`` (tabular softmax, Direct);
    ``matrix.ndim == 2``: dense (LogLinear, or a matrix given by the user).
    """

    matrix: np.ndarray

    def __post_init__(self):
        m = np.array(self.matrix, dtype=float)
        if m.ndim not in (2, 3) or m.shape[-1] != m.shape[-2]:
            raise ValueError(f"a Fisher matrix must have shape (d, d) or blocks (M, A, A); got {m.shape}")
        if not np.all(np.isfinite(m)):
            raise ValueError("the Fisher matrix must be finite; found a NaN or inf")
        object.__setattr__(self, "matrix", readonly(m))

    @property
    def is_blocks(self) -> bool:
        return self.matrix.ndim == 3

    @property
    def n_params(self) -> int:
        return self.matrix.shape[0] * self.matrix.shape[1] if self.is_blocks else self.matrix.shape[0]

    @one_blas_thread()
    def solve(self, g: np.ndarray, damping: float = 0.0) -> np.ndarray:
        """The natural gradient :math:`F^+g` (or :math:`(F+\\lambda I)^{-1}g`), shape ``(d,)``.

        Kakade (2001), "A Natural Policy Gradient", Theorem 1 direction :math:`F^{-1}\\nabla J`;
        the pseudo-inverse drops eigenvalues below ``FISHER_RCOND`` times the largest
        (the softmax null space of constant shifts per state).
        """
        damping = check_damping(damping)
        g = np.asarray(g, dtype=float)
        if g.shape != (self.n_params,):
            raise ValueError(f"g must have shape ({self.n_params},) to match the Fisher matrix; got {g.shape}")
        if self.is_blocks:
            return block_pinv_solve(self.matrix, g, damping)
        if damping > 0:
            return np.linalg.solve(self.matrix + damping * np.eye(g.size), g)
        return np.linalg.pinv(self.matrix, rcond=FISHER_RCOND, hermitian=True) @ g

    def quadratic(self, x: np.ndarray) -> float:
        """:math:`x^\\top F x` (twice the second-order KL of a step ``x``), for ``x (d,)``."""
        x = np.asarray(x, dtype=float)
        if self.is_blocks:
            xb = x.reshape(self.matrix.shape[:2])
            return float(np.einsum("ma,mab,mb->", xb, self.matrix, xb))
        return float(x @ self.matrix @ x)

    def dense(self) -> np.ndarray:
        """The ``(d, d)`` matrix (block diagonal assembled); only for users who ask for it."""
        if not self.is_blocks:
            return self.matrix
        M, A, _ = self.matrix.shape
        F = np.zeros((M, A, M, A))
        F[np.arange(M), :, np.arange(M), :] = self.matrix
        return F.reshape(M * A, M * A)

    @classmethod
    def from_dense(cls, policy: Policy, F: np.ndarray) -> FisherMatrix:
        """The blocks of a dense block-diagonal ``F (d, d)`` of a block policy (dense otherwise)."""
        F = np.asarray(F, dtype=float)
        if F.shape != (policy.n_params, policy.n_params):
            raise ValueError(f"F must have shape (d, d) = {(policy.n_params,) * 2}; got {F.shape}")
        if not has_fisher_blocks(policy):
            return cls(F)
        A = policy.n_actions
        M = policy.n_params // A
        return cls(F.reshape(M, A, M, A)[np.arange(M), :, np.arange(M), :])


def has_fisher_blocks(policy: Policy) -> bool:
    """True for parameterisations whose Fisher matrix is block diagonal by (step,) state."""
    return isinstance(policy, (TabularSoftmax, Direct))


@one_blas_thread()
def fisher_matrix(policy: Policy, theta, w_state: np.ndarray) -> FisherMatrix:
    """:math:`F = \\sum_s w(s)\\mathbb E_{a\\sim\\pi_s}[\\psi\\psi^\\top]` for ``w_state`` of shape
    ``probs_shape[:-1]``.

    Blocks ``(M, A, A)`` for a tabular softmax (:math:`w(s)(\\mathrm{diag}\\,\\pi_s-\\pi_s\\pi_s^\\top)`)
    or a Direct policy (:math:`w(s)\\,\\mathrm{diag}(1/\\pi_s)`); dense ``(d, d)`` otherwise.

    Examples
    --------
    >>> import tabular_pg as tpg
    >>> pol = tpg.TabularSoftmax(2, 2); th = np.array([0., 1., 0., 0.])
    >>> F = fisher_matrix(pol, th, np.array([1., .5]))
    >>> F.matrix.shape, bool(np.allclose(F.dense(), pol.fisher(th, np.array([[1.], [.5]]) * pol.probs(th))))
    ((2, 2, 2), True)
    """
    if has_fisher_blocks(policy):
        return FisherMatrix(cast(Any, policy).fisher_blocks(theta, w_state))   # the tabular softmax's method
    w = policy.check_weights("w_state", w_state, policy.probs_shape[:-1])
    return FisherMatrix(policy.fisher(theta, w[..., None] * policy.probs(theta)))
