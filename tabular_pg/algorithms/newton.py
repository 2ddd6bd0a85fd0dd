"""Cubic-regularised Newton ascent on J with the exact Hessian (Nesterov & Polyak 2006)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from tabular_pg._checks import positive_number
from tabular_pg.algorithms.run import Algorithm
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.policies import Direct

__all__ = ["CubicNewton", "cubic_step"]


def _step_of_radius(gt: np.ndarray, lam: np.ndarray, M: float, r: float) -> np.ndarray:
    """Eigen-coordinates of :math:`(\\tfrac{Mr}{2}I - H)^{-1}g`."""
    return gt / (M * r / 2 - lam)


def cubic_step(g: np.ndarray, H: np.ndarray, M: float) -> np.ndarray:
    """The global maximiser of :math:`m(s) = g^\\top s + \\tfrac12 s^\\top H s - \\tfrac M6\\|s\\|^3`, shape ``(d,)``.

    Parameters
    ----------
    g : ndarray (d,)
        Gradient.
    H : ndarray (d, d)
        Symmetric Hessian (any inertia: J is not concave).
    M : float > 0
        Cubic regularisation, an estimate of the Lipschitz constant of the Hessian.

    Notes
    -----
    Nesterov & Polyak 2006, "Cubic regularization of Newton method and its global
    performance" (their subproblem, for the maximisation of J): :math:`s = (\\tfrac{Mr}{2}I - H)^{-1} g` with
    :math:`r = \\|s\\|` and :math:`\\tfrac{Mr}{2} \\ge \\lambda_{\\max}(H)`.  In the eigenbasis of H,
    :math:`\\|s(r)\\| - r` decreases on :math:`r > 2\\lambda_{\\max}/M`; its root is found by Brent's
    method.  In the "hard case" (g has no component along the top eigenvector) the step is
    completed along that eigenvector up to :math:`r = 2\\lambda_{\\max}/M`, which escapes a saddle
    point even when ``g = 0``.

    Examples
    --------
    >>> s = cubic_step(np.array([1.0, 0.0]), -np.eye(2), M=2.0)   # s = 1 / (1 + r) = r: the golden ratio
    >>> bool(np.isclose(s[0], (np.sqrt(5) - 1) / 2, rtol=1e-14, atol=0)), float(s[1])
    (True, 0.0)
    """
    lam, U = np.linalg.eigh(H)
    gt = U.T @ g
    lo = max(0.0, 2 * lam[-1] / M)
    a = lo * (1 + 1e-12) + 1e-300
    gap = lambda r: np.linalg.norm(_step_of_radius(gt, lam, M, r)) - r      # noqa: E731
    if gap(a) > 0:
        hi = lo + 1.01 * np.sqrt(2 * np.linalg.norm(g) / M) + 1e-300
        r = brentq(gap, a, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps)
        return U @ _step_of_radius(gt, lam, M, r)
    st = _step_of_radius(gt, lam, M, a)
    st[-1] += np.sqrt(max(lo ** 2 - st @ st, 0.0))
    return U @ st


#: Adaptive regularisation (Cartis, Gould & Toint 2011, "Adaptive cubic regularisation methods
#: for unconstrained optimization. Part I", Algorithm 2.1): a step is accepted when its realised
#: gain is at least this fraction of the model's gain m(s) ...
ACCEPT = 0.1
#: ... and M is divided by ``SHRINK`` after an accepted step, multiplied by it after a rejected one.
SHRINK = 2.0


@dataclass(frozen=True)
class CubicNewton(Algorithm):
    """:math:`\\theta_{t+1} = \\theta_t + \\arg\\max_s [g^\\top s + \\tfrac12 s^\\top H s - \\tfrac {M_t}6\\|s\\|^3]`.

    Parameters
    ----------
    M : float > 0
        Cubic regularisation (default 1.0): the first :math:`M_t`.  When it bounds the Lipschitz
        constant of :math:`\\nabla^2 J` every step increases J (Nesterov & Polyak 2006:
        :math:`J(\\theta + s) \\ge J(\\theta) + m(s) \\ge J(\\theta)`);
        a smaller M takes longer steps.
    adaptive : bool
        Adapt :math:`M_t` (default True; Cartis, Gould & Toint 2011, Algorithm 2.1): accept the
        step when :math:`J(\\theta+s) - J(\\theta) \\ge` ``ACCEPT`` :math:`\\cdot m(s)` and divide
        :math:`M_t` by ``SHRINK``, else stay at :math:`\\theta_t` (a rejected iteration) and multiply
        it by ``SHRINK``; costs one more ``oracle.value`` per iteration.  False: the fixed
        :math:`M` of Nesterov & Polyak 2006.

    Notes
    -----
    Needs the exact Hessian of J (``answers.hessian``, :func:`tabular_pg.exact.hessian.hessian`):
    an :class:`~tabular_pg.algorithms.oracles.ExactOracle`.  A sampled oracle supplies no Hessian
    and is refused with a TypeError.  Unlike plain Newton, the step ascends where J is not
    concave (negative curvature is followed, not inverted).  On the flat plateau of a softmax
    near a deterministic optimum g and H are both of the order of the gap, so a fixed M steps
    only :math:`\\sim\\sqrt{\\|g\\|/M}` (sublinear); the adaptive :math:`M_t` shrinks with them and
    the step becomes Newton's (measured in ``tests/test_newton.py``).  For a :class:`Direct`
    policy the step is projected back onto the simplices, as in
    :class:`~tabular_pg.algorithms.pg.PolicyGradient`, and judged by the projected step; the
    cubic model knows no constraints, so at the boundary of the simplex the steps shrink
    (measured on garnet(8, 3, 2), gamma = 0.9: gap 0.14 after 100 iterations, against 3e-5 for
    PolicyGradient): it is meant for softmax and log-linear policies.  Each update
    diagonalises the ``(d, d)`` Hessian: small ``d`` only.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.bandit([0.2, 0.5, 0.9]); pol = tpg.TabularSoftmax(1, 3)
    >>> hist = tpg.run(CubicNewton(), mdp, pol, pol.initial(), tpg.ExactOracle(mdp), 40)
    >>> bool(np.all(np.diff(hist.J) >= 0)), bool(hist.J[-1] > 0.9 - 1e-9)
    (True, True)
    """

    M: float = 1.0
    adaptive: bool = True

    def __post_init__(self):
        positive_number("M", self.M)
        if not isinstance(self.adaptive, (bool, np.bool_)):
            raise TypeError(f"adaptive must be a bool; got {type(self.adaptive).__name__}")

    def start(self, policy, theta):
        return float(self.M)

    def update(self, policy, theta, oracle, state, rng):
        answers = oracle.query(policy, theta)
        if not hasattr(type(answers), "hessian"):
            raise TypeError(f"CubicNewton needs the exact Hessian of J, which only an ExactOracle supplies; "
                            f"{type(oracle).__name__} answers ({type(answers).__name__}) have no Hessian")
        g, H, M = answers.gradient, answers.hessian, state
        s = cubic_step(g, H, M)
        if not np.any(s):
            warnings.warn("CubicNewton: zero gradient and no direction of positive curvature; the update cannot move",
                          ConvergenceWarning, stacklevel=2)
            return theta, state
        new = policy.project(theta + s) if isinstance(policy, Direct) else theta + s
        if not self.adaptive:
            return new, state
        s = new - theta                  # the projected step of a Direct policy: its model gain is what J can realise
        model_gain = g @ s + 0.5 * s @ H @ s - M / 6 * np.linalg.norm(s) ** 3
        if oracle.value(policy, new) - answers.J >= ACCEPT * model_gain:
            return new, M / SHRINK
        return theta, M * SHRINK
