"""Policy parameterisations: tabular softmax, log-linear, direct.

Every policy maps a flat parameter vector ``theta (d,)`` to action probabilities
``pi (S, A)`` (or ``(H, S, A)`` for a per-step tabular softmax) and gives

* ``score(theta)``    :math:`\\psi(s,a) = \\nabla_\\theta \\log \\pi_\\theta(a|s)`, shape ``(S, A, d)``;
* ``jacobian(theta)`` :math:`\\nabla_\\theta \\pi_\\theta(a|s) = \\pi_\\theta(a|s)\\,\\psi(s,a)`
  ("Lecture 6: The Policy Gradient" eq. 11), shape ``(S, A, d)``;
* ``vjp(theta, W)``   :math:`\\sum_{s,a} W(s,a) \\nabla_\\theta \\pi_\\theta(a|s)`, shape ``(d,)``,
  computed without materialising the jacobian (the policy-gradient theorem is a vjp with
  ``W = d̃ · Q``);
* ``fisher(theta, w)`` :math:`\\sum_{s,a} w(s,a)\\, \\psi\\psi^\\top`, shape ``(d, d)``.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np

from tabular_pg._checks import (
    as_float_array,
    check_action_mask,
    check_distributions,
    check_finite,
    positive_int,
    readonly,
)

__all__ = ["Policy", "TabularSoftmax", "LogLinear", "Direct", "softmax", "log_softmax", "masked_logits"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis (no overflow for large logits).

    Examples
    --------
    >>> softmax(np.array([1000.0, 1000.0, -1000.0])).round(6).tolist()
    [0.5, 0.5, 0.0]
    """
    with np.errstate(over="ignore"):       # z - max < -1.8e308 rounds to -inf: exp gives the exact limit 0
        e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Stable :math:`z_a - \\log\\sum_b e^{z_b}` over the last axis (finite for finite z)."""
    m = z.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):       # as in softmax: -inf is log of a probability that is exactly 0
        shifted = z - m
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def masked_logits(z: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Logits ``z (..., S, A)`` with ``-inf`` where ``mask (S, A)`` is False: :func:`softmax` gives them exactly 0."""
    return z if mask is None else np.where(mask, z, -np.inf)


#: Largest dense array (in float64 entries) that ``score``/``fisher`` of a tabular softmax
#: will materialise; beyond it they refuse instead of exhausting memory.
MAX_DENSE_ENTRIES = 2 * 10**8


def _check_dense_size(what: str, n_entries: int, instead: str) -> None:
    if n_entries > MAX_DENSE_ENTRIES:
        raise ValueError(f"{what} would be a dense array of {n_entries:,} float64 entries "
                         f"({n_entries * 8 / 2**30:.1f} GiB); use {instead}")


class Policy(abc.ABC):
    """Shared behaviour: parameter checking and the generic score-based quantities.

    A parameterisation defines ``n_params``, ``initial``, ``probs``, ``score`` and ``vjp``.
    """

    n_states: int
    n_actions: int
    horizon: int | None = None

    @property
    @abc.abstractmethod
    def n_params(self) -> int:
        """The dimension ``d`` of ``theta``."""

    @abc.abstractmethod
    def initial(self) -> np.ndarray:
        """The parameters of the uniform policy, ``(d,)``."""

    @abc.abstractmethod
    def probs(self, theta) -> np.ndarray:
        """:math:`\\pi_\\theta(a|s)`, shape ``probs_shape``."""

    @abc.abstractmethod
    def score(self, theta) -> np.ndarray:
        """:math:`\\nabla_\\theta\\log\\pi_\\theta(a|s)`, shape ``probs_shape + (d,)``."""

    @abc.abstractmethod
    def vjp(self, theta, W: np.ndarray) -> np.ndarray:
        """:math:`\\sum_{s,a} W(s,a)\\nabla_\\theta\\pi_\\theta(a|s)`, shape ``(d,)``."""

    @property
    def probs_shape(self) -> tuple[int, ...]:
        base = (self.n_states, self.n_actions)
        return base if self.horizon is None else (self.horizon, *base)

    def check_theta(self, theta) -> np.ndarray:
        """Return ``theta`` as a float array of shape ``(d,)``, or raise naming the problem."""
        theta = as_float_array("theta", theta)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},) for {self!r}; got {theta.shape}")
        if not np.all(np.isfinite(theta)):
            raise ValueError(f"theta must be finite; found {theta[~np.isfinite(theta)][0]} "
                             f"at index {int(np.flatnonzero(~np.isfinite(theta))[0])}")
        return theta

    def jacobian(self, theta) -> np.ndarray:
        """:math:`\\nabla_\\theta \\pi(a|s) = \\pi(a|s)\\psi(s,a)`, shape ``probs_shape + (d,)``."""
        return self.probs(theta)[..., None] * self.score(theta)

    def check_weights(self, name: str, W, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """``W`` as a finite float array broadcast to ``shape`` (default ``probs_shape``), or raise naming it."""
        shape = self.probs_shape if shape is None else shape
        W = as_float_array(name, W)
        try:
            W = np.broadcast_to(W, shape)
        except ValueError:
            raise ValueError(f"{name} must have shape {shape} (or broadcast to it); got {W.shape}") from None
        if not np.all(np.isfinite(W)):
            raise ValueError(f"{name} must be finite; found {W[~np.isfinite(W)][0]}")
        return W

    def fisher(self, theta, w: np.ndarray) -> np.ndarray:
        """:math:`\\sum_{s,a} w(s,a)\\,\\psi(s,a)\\psi(s,a)^\\top`, shape ``(d, d)``.

        With ``w = d(s) pi(a|s)`` this is the Fisher matrix of "Lecture 15: Policy Optimization with Trust Regions" §3.
        """
        psi = self.score(theta).reshape(-1, self.n_params)
        w = self.check_weights("w", w).reshape(-1)
        keep = w != 0
        psi, w = psi[keep], w[keep]
        return (psi * w[:, None]).T @ psi


@dataclass(frozen=True)
class TabularSoftmax(Policy):
    """:math:`\\pi_\\theta(a|s) = e^{\\theta_{s,a}} / \\sum_b e^{\\theta_{s,b}}`, ``theta (S*A,)``.

    With ``horizon=H`` the policy is per-step: ``theta (H*S*A,)``, ``probs (H, S, A)``.
    With ``mask (S, A)`` (bool, True = feasible; e.g. :attr:`FiniteMDP.mask`) the softmax runs
    over the feasible actions only: :math:`\\pi(a|s) = 1[a \\in \\mathcal A(s)] e^{\\theta_{s,a}} /
    \\sum_{b \\in \\mathcal A(s)} e^{\\theta_{s,b}}`, exactly 0 on infeasible actions, whose
    parameters then get zero gradient (every formula below carries a factor :math:`\\pi`).

    Examples
    --------
    >>> pol = TabularSoftmax(2, 3)
    >>> theta = np.array([0., 1., 2., 5., 5., 5.])
    >>> g = pol.jacobian(theta)
    >>> bool(np.allclose(g.sum(axis=1), 0))   # sum_a grad pi(a|s) = grad 1 = 0
    True
    >>> W = np.arange(6.).reshape(2, 3)
    >>> bool(np.allclose(pol.vjp(theta, W), np.einsum('sa,sai->i', W, g)))
    True
    """

    n_states: int
    n_actions: int
    horizon: int | None = None
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        positive_int("n_states", self.n_states)
        positive_int("n_actions", self.n_actions)
        if self.horizon is not None:
            positive_int("horizon", self.horizon)
        if self.mask is not None:
            object.__setattr__(self, "mask", check_action_mask(self.mask, self.n_states, self.n_actions))

    @property
    def n_params(self) -> int:
        return int(np.prod(self.probs_shape))

    def initial(self) -> np.ndarray:
        """Zeros: the uniform policy."""
        return np.zeros(self.n_params)

    def logits(self, theta) -> np.ndarray:
        """:math:`\\theta` as ``probs_shape``; ``-inf`` on infeasible actions."""
        return masked_logits(self.check_theta(theta).reshape(self.probs_shape), self.mask)

    def probs(self, theta) -> np.ndarray:
        return softmax(self.logits(theta))

    def log_probs(self, theta) -> np.ndarray:
        return log_softmax(self.logits(theta))

    def score(self, theta) -> np.ndarray:
        """:math:`\\psi(s,a)_{(s',b)} = 1[s=s'](1[a=b] - \\pi(b|s))`; dense ``probs_shape + (d,)``."""
        pi = self.probs(theta).reshape(-1, self.n_actions)          # (M, A), M = (H*)S
        M, A = pi.shape
        _check_dense_size("the tabular softmax score", M * A * M * A, "vjp() or fisher_blocks()")
        block = np.eye(A)[None, :, :] - pi[:, None, :]               # (M, A, A)
        psi = np.zeros((M, A, M, A))
        psi[np.arange(M), :, np.arange(M), :] = block
        return psi.reshape(*self.probs_shape, self.n_params)

    def vjp(self, theta, W: np.ndarray) -> np.ndarray:
        """:math:`\\sum_{s,a} W(s,a)\\nabla\\pi(a|s)`; entry ``(s,b)`` is
        :math:`\\pi(b|s)(W(s,b) - \\sum_a \\pi(a|s) W(s,a))`."""
        pi = self.probs(theta)
        W = self.check_weights("W", W)
        return (pi * (W - (pi * W).sum(axis=-1, keepdims=True))).reshape(-1)

    def fisher_blocks(self, theta, w_state: np.ndarray) -> np.ndarray:
        """Per-state blocks :math:`w(s)(\\mathrm{diag}\\,\\pi_s - \\pi_s\\pi_s^\\top)`, shape ``(M, A, A)``.

        The Fisher matrix of a tabular softmax is block diagonal with these blocks when
        ``w_state = d(s)`` (``M = S``, or ``H*S`` for a per-step policy).
        """
        pi = self.probs(theta).reshape(-1, self.n_actions)
        blocks = pi[:, :, None] * np.eye(self.n_actions) - pi[:, :, None] * pi[:, None, :]
        return self.check_weights("w_state", w_state, self.probs_shape[:-1]).reshape(-1)[:, None, None] * blocks

    def fisher(self, theta, w: np.ndarray) -> np.ndarray:
        """Block-diagonal :math:`\\sum_a w(s,a)(e_a-\\pi_s)(e_a-\\pi_s)^\\top`, assembled without the score."""
        pi = self.probs(theta).reshape(-1, self.n_actions)
        w = self.check_weights("w", w).reshape(pi.shape)
        cross = w[:, :, None] * pi[:, None, :]                        # w_a pi_b
        blocks = (np.eye(self.n_actions)[None] * w[:, None, :] - cross - cross.transpose(0, 2, 1)
                  + w.sum(axis=1)[:, None, None] * pi[:, :, None] * pi[:, None, :])
        M, A = pi.shape
        _check_dense_size("the tabular softmax Fisher matrix", (M * A) ** 2, "fisher_blocks() or natural_gradient()")
        F = np.zeros((M, A, M, A))
        F[np.arange(M), :, np.arange(M), :] = blocks
        return F.reshape(M * A, M * A)


@dataclass(frozen=True, eq=False)
class LogLinear(Policy):
    """:math:`\\pi_\\theta(a|s) \\propto \\exp(\\phi(s,a)^\\top\\theta)` with ``features (S, A, d)``.

    Shared features across states express state aliasing (two states with identical
    feature rows get identical action distributions).  ``mask (S, A)`` restricts the
    softmax to the feasible actions as for :class:`TabularSoftmax`.

    Examples
    --------
    >>> phi = np.random.default_rng(0).normal(size=(3, 2, 4))
    >>> pol = LogLinear(phi)
    >>> theta = np.arange(4.)
    >>> psi = pol.score(theta)
    >>> bool(np.allclose(np.einsum('sa,sai->si', pol.probs(theta), psi), 0))  # E_pi[psi] = 0
    True
    """

    features: np.ndarray
    mask: np.ndarray | None = None

    def __post_init__(self):
        phi = as_float_array("features", self.features)
        if phi.ndim != 3 or min(phi.shape) < 1:
            raise ValueError(f"features must have shape (S, A, d) with S, A, d >= 1; got {phi.shape}")
        if not np.all(np.isfinite(phi)):
            raise ValueError("features must be finite; found a NaN or inf")
        object.__setattr__(self, "features", readonly(phi))
        if self.mask is not None:
            object.__setattr__(self, "mask", check_action_mask(self.mask, phi.shape[0], phi.shape[1]))

    n_states = property(lambda self: self.features.shape[0])
    n_actions = property(lambda self: self.features.shape[1])

    @property
    def n_params(self) -> int:
        return self.features.shape[2]

    def __repr__(self) -> str:
        return f"LogLinear(features of shape {self.features.shape})"

    def initial(self) -> np.ndarray:
        """Zeros: the uniform policy."""
        return np.zeros(self.n_params)

    def logits(self, theta) -> np.ndarray:
        """:math:`\\phi(s,a)^\\top\\theta`; ValueError if it overflows (``|theta|`` near the float limit)."""
        theta = self.check_theta(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            z = self.features @ theta
        if not np.all(np.isfinite(z)):
            s, a = np.argwhere(~np.isfinite(z))[0]
            raise ValueError(f"theta is too large for these features: the logit phi(s={s}, a={a}) . theta "
                             f"overflows to {z[s, a]} (|theta|_max = {np.abs(theta).max():.3g})")
        return masked_logits(z, self.mask)

    def probs(self, theta) -> np.ndarray:
        return softmax(self.logits(theta))

    def log_probs(self, theta) -> np.ndarray:
        return log_softmax(self.logits(theta))

    def score(self, theta) -> np.ndarray:
        """:math:`\\psi(s,a) = \\phi(s,a) - \\sum_b \\pi(b|s)\\phi(s,b)`, shape ``(S, A, d)``."""
        pi = self.probs(theta)
        return self.features - np.einsum("sb,sbi->si", pi, self.features)[:, None, :]

    def vjp(self, theta, W: np.ndarray) -> np.ndarray:
        pi = self.probs(theta)
        Wpi = self.check_weights("W", W) * pi
        phibar = np.einsum("sb,sbi->si", pi, self.features)
        return np.einsum("sa,sai->i", Wpi, self.features) - Wpi.sum(axis=1) @ phibar


@dataclass(frozen=True)
class Direct(Policy):
    """Direct parameterisation :math:`\\pi_\\theta(a|s) = \\theta_{s,a}`, ``theta (S*A,)``.

    ``theta`` must be a stochastic matrix (flattened); the gradient of J with respect to
    it is :math:`\\tilde d(s) Q(s,a)` (Agarwal et al., 2021, eq. 3).  Used by
    conservative policy iteration, which mixes policies in probability space.

    Examples
    --------
    >>> pol = Direct(2, 2)
    >>> pol.probs(pol.initial()).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    >>> pol.project(np.array([2., 0., 0.3, 0.3])).tolist()
    [1.0, 0.0, 0.5, 0.5]
    """

    n_states: int
    n_actions: int

    def __post_init__(self):
        positive_int("n_states", self.n_states)
        positive_int("n_actions", self.n_actions)

    @property
    def n_params(self) -> int:
        return self.n_states * self.n_actions

    def initial(self) -> np.ndarray:
        return np.full(self.n_params, 1.0 / self.n_actions)

    def from_probs(self, pi) -> np.ndarray:
        """The parameter vector of the policy ``pi (S, A)`` (validated)."""
        pi = as_float_array("pi", pi)
        if pi.shape != (self.n_states, self.n_actions):
            raise ValueError(f"pi must have shape (S, A) = {(self.n_states, self.n_actions)}; got {pi.shape}")
        theta = pi.reshape(-1)
        self.probs(theta)
        return theta.copy()

    def probs(self, theta) -> np.ndarray:
        pi = self.check_theta(theta).reshape(self.n_states, self.n_actions)
        check_distributions("Direct policy", pi, labels=("s",))
        return pi

    def jacobian(self, theta) -> np.ndarray:
        self.probs(theta)
        return np.eye(self.n_params).reshape(self.n_states, self.n_actions, self.n_params)

    def score(self, theta) -> np.ndarray:
        """:math:`\\psi(s,a) = e_{(s,a)} / \\pi(a|s)`; undefined where ``pi(a|s) = 0``."""
        pi = self.probs(theta)
        if (pi == 0).any():
            s, a = np.argwhere(pi == 0)[0]
            raise ValueError(f"the score of a Direct policy is undefined where pi(a|s) = 0; pi({a}|{s}) = 0")
        return self.jacobian(theta) / pi[:, :, None]

    def vjp(self, theta, W: np.ndarray) -> np.ndarray:
        self.probs(theta)
        return self.check_weights("W", W).reshape(-1).astype(float)

    def fisher_blocks(self, theta, w_state: np.ndarray) -> np.ndarray:
        """Per-state blocks :math:`w(s)\\,\\mathrm{diag}(1/\\pi_s)`, shape ``(S, A, A)``.

        :math:`\\sum_a \\pi(a|s)\\psi\\psi^\\top` with :math:`\\psi = e_{(s,a)}/\\pi(a|s)`; undefined
        (ValueError) where a state of positive weight has an action of probability 0.
        """
        pi = self.probs(theta)
        w = self.check_weights("w_state", w_state, (self.n_states,))
        bad = (w[:, None] != 0) & (pi == 0)
        if bad.any():
            s, a = np.argwhere(bad)[0]
            raise ValueError(f"the Fisher matrix of a Direct policy is undefined where pi(a|s) = 0 at a "
                             f"weighted state; pi({a}|{s}) = 0")
        inv = np.divide(w[:, None], pi, out=np.zeros_like(pi), where=w[:, None] != 0)
        return inv[:, :, None] * np.eye(self.n_actions)

    def project(self, x) -> np.ndarray:
        """Euclidean projection of each row of ``x (S*A,)`` onto the simplex (Duchi et al., 2008)."""
        v = as_float_array("x", x)
        if v.shape != (self.n_params,):
            raise ValueError(f"x must have shape ({self.n_params},); got {v.shape}")
        check_finite("x", v)
        v = v.reshape(self.n_states, self.n_actions)
        u = -np.sort(-v, axis=1)
        css = np.cumsum(u, axis=1) - 1.0
        k = np.arange(1, self.n_actions + 1)
        rho = (u - css / k > 0).sum(axis=1)
        tau = css[np.arange(self.n_states), rho - 1] / rho
        return np.maximum(v - tau[:, None], 0.0).reshape(-1)
