"""The fixed-point side of the linear solves: :math:`x \\leftarrow b + \\gamma P x` with its slow
mode removed, and the convergence test shared with the Krylov solver of
:mod:`tabular_pg.exact.linsolve`.
"""
from __future__ import annotations

import numpy as np

__all__ = ["RESIDUAL_WARN", "REFINED_RTOL", "BACKWARD_TOL", "ROUNDING_FLOOR", "converged", "max_abs",
           "extrapolated_iteration"]

#: A relative residual above this triggers a :class:`~tabular_pg.exact.linsolve.PrecisionWarning`.
RESIDUAL_WARN = 1e-10
#: Target of the refined GMRES solve (true residual, recomputed in float64).
REFINED_RTOL = 1e-13
#: Normwise backward error at which refinement also stops (see :func:`converged`).
BACKWARD_TOL = 1e-14
#: Normwise backward error of float64 rounding (two units of roundoff), where no solver gets lower.
ROUNDING_FLOOR = 2 * np.finfo(float).eps


def converged(r: np.ndarray, x: np.ndarray, nb: float) -> bool:
    """Relative residual below ``1e-13``, or normwise backward error
    :math:`\\|r\\|/(\\|M\\|\\|x\\| + \\|b\\|)` below ``1e-14`` (``||M||_inf <= 2``), whichever comes first.

    A third rule stops at the rounding floor of float64, a backward error of two units of
    roundoff, if the relative residual is below half of :data:`RESIDUAL_WARN`: near gamma = 1
    the floor is above 1e-11 (1.1e-11 for d̃ on the S = 1e4 garnet at gamma = 0.9999, where
    ``x`` is 3e4 times ``b``), and the GMRES cycle that found it could not go lower cost 19
    products.

    The second is what a backward-stable direct solve guarantees; asking for more
    when ``x`` is much larger than ``b`` (visitation with ``mu`` spread over 1e6 states)
    costs Krylov cycles that change nothing but rounding.  The second also keeps the
    relative residual 10x below :data:`RESIDUAL_WARN`, which a backward error of 1e-14
    alone does not when ``x`` is 1e4 times ``b`` (gamma = 0.9999).
    """
    nr = max_abs(r)
    if nr <= REFINED_RTOL * nb:
        return True
    scale = 2 * max_abs(x) + nb
    if nr <= 0.1 * RESIDUAL_WARN * nb and nr <= BACKWARD_TOL * scale:
        return True
    return bool(nr <= 0.5 * RESIDUAL_WARN * nb and nr <= ROUNDING_FLOOR * scale)


def max_abs(v: np.ndarray) -> float:
    """:math:`\\|v\\|_\\infty` without allocating ``|v|`` (two passes over 8 MB at S = 1e6)."""
    return float(max(v.max(initial=-np.inf), -v.min(initial=np.inf), 0.0))


def _slow_mode_step(x_new, delta, gamma: float):
    """Subtract the component of the error of the value system along the constant vector,
    the eigenvector of eigenvalue ``gamma``: the midpoint of the MacQueen (1966) bounds
    :math:`V^* \\in x + \\tfrac{\\gamma}{1-\\gamma}[\\min\\Delta, \\max\\Delta]`.

    Returns the estimate and the shift ``c`` with ``estimate = x_new + c``.
    """
    c = gamma / (1 - gamma) * 0.5 * (delta.max() + delta.min())
    return x_new + c, c


def _shifted_residual(delta, c: float, gamma: float) -> np.ndarray:
    """Residual ``b - M est`` of the previous estimate ``est = x + c`` of the value system,
    from this step's ``delta``: with :math:`x_{k+1} = b + \\gamma P x_k` the residual of
    :math:`x_k` is :math:`\\Delta_{k+1} = x_{k+1} - x_k`, and :math:`M\\mathbf 1 = (1-\\gamma)\\mathbf 1`.  No
    matvec."""
    return delta - c * (1 - gamma)


def _left_start(b: np.ndarray, gamma: float, x0: np.ndarray | None) -> np.ndarray:
    """A start of the visitation iteration :math:`x \\leftarrow b + \\gamma P^\\top x` with the exact mass
    :math:`\\mathbf 1^\\top\\tilde d = \\mathbf 1^\\top b/(1-\\gamma)`: ``b / (1 - gamma)``, or ``x0`` shifted
    uniformly to that mass.

    The slow mode of the iteration is the stationary distribution :math:`\\nu` (eigenvalue
    ``gamma``), and the coefficient of the error along it is :math:`\\mathbf 1^\\top e`
    (:math:`\\mathbf 1` is the matching left eigenvector, :math:`\\mathbf 1^\\top P^\\top = \\mathbf 1^\\top`),
    which the iteration keeps (:math:`\\mathbf 1^\\top x_{k+1} = \\mathbf 1^\\top b + \\gamma\\mathbf 1^\\top x_k`):
    started with the right mass it never sees the slow mode.  (Estimating :math:`\\nu` from
    the steps instead, as before, cost 36 transposed products against 29 for V at gamma = 0.99
    and 80 at 0.9999 on the S = 1e4 garnet: its error carried a factor :math:`1/(1-\\gamma)`.)
    """
    mass = b.sum() / (1 - gamma)
    if x0 is None:
        return b / (1 - gamma)
    x = np.array(x0, dtype=float)
    x += (mass - x.sum()) / x.size
    return x


def extrapolated_iteration(M, b: np.ndarray, gamma: float, left: bool, max_iter: int = 200,
                           x0: np.ndarray | None = None) -> np.ndarray:
    """Fixed-point iteration :math:`x \\leftarrow b + \\gamma P x` (``P`` read off ``M = I - \\gamma P``)
    with the slow mode removed: at every step for V (:func:`_slow_mode_step`), once and for all
    by the start for d̃ (``left``, :func:`_left_start`).

    The remaining error contracts like :math:`\\gamma|\\lambda_2(P)|`, fast on well-mixing
    (random) MDPs: one sparse matvec per step and no Krylov basis, which matters at
    S = 1e6 (measured on garnets with 4 actions and 5 successors at gamma = 0.99: a
    contraction of about 0.35 a step, 27 steps for V and 31 for d̃ at S = 1e5).  Every step
    also yields the exact residual of the previous estimate without a matvec
    (:func:`_shifted_residual`), so the iteration returns as soon as that estimate meets
    :func:`converged`; it hands over to GMRES (the caller) when that residual shrinks
    less than 10x over five steps, after ten (slow mixing, or the rounding floor).  (The change of the
    estimate is no stopping signal: the MacQueen midpoint jumps by up to 10x between steps.)
    """
    if left:
        x = _left_start(b, gamma, x0)
    else:
        x = b.copy() if x0 is None else np.array(x0, dtype=float)
    est, c, residuals = x, 0.0, []
    nb = max_abs(b)
    gamma_P = getattr(M, "gamma_P", lambda v: v - M @ v)
    for _ in range(max_iter):
        x_new = gamma_P(x)
        x_new += b
        delta = x_new - x
        r = delta if left else _shifted_residual(delta, c, gamma)
        if converged(r, est, nb):
            return est
        residuals.append(max_abs(r))
        if len(residuals) >= 10 and residuals[-1] > 0.1 * residuals[-6]:
            return est                 # slower than ~0.63 per step, or at the rounding floor
        est, c = (x_new, 0.0) if left else _slow_mode_step(x_new, delta, gamma)
        x = x_new
    return est
