"""Proximal policy optimisation: the clipped surrogate, ascended by epochs of minibatch Adam.

Schulman et al. (2017), "Proximal Policy Optimization Algorithms": collect a batch with
:math:`\\pi_t`, estimate advantages (GAE, Schulman et al. 2016, from the oracle's dataset),
then ascend :math:`L^{CLIP}(\\theta) = \\hat{\\mathbb E}[\\min(r_\\theta \\hat A,
\\mathrm{clip}(r_\\theta, 1-\\epsilon, 1+\\epsilon)\\hat A)]` (eq. 7) for a few epochs of
minibatch Adam.  The implementation details follow CleanRL's ``ppo.py`` and Andrychowicz
et al. (2021), "What Matters in On-Policy Reinforcement Learning": advantages normalised
per minibatch, global gradient-norm clipping, Adam moments that persist across iterations,
optional early stop of the epochs on the sample KL.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tabular_pg._checks import freeze_fields, positive_int, positive_number
from tabular_pg.algorithms.run import Algorithm
from tabular_pg.exact.linsolve import ConvergenceWarning

__all__ = ["PPO", "AdamState", "clipped_surrogate", "clipped_surrogate_gradient", "ratios",
           "normalized_advantages", "sample_kl", "entropy_bonus", "entropy_bonus_gradient"]

_OPTIMIZERS = ("sgd", "adam")
#: Adam's (beta1, beta2, epsilon) (Kingma & Ba 2015, Algorithm 1).
ADAM = (0.9, 0.999, 1e-8)


def ratios(policy, theta, data) -> np.ndarray:
    """:math:`r_\\theta = \\pi_\\theta(a_i|s_i)/\\pi_t(a_i|s_i)`, shape ``(N,)``."""
    return policy.probs(theta).reshape(-1)[data.rows(policy)] / data.old_probs


def clipped_surrogate(policy, theta, data, clip: float) -> float:
    """:math:`L(\\theta) = \\sum_i w_i \\min(r_i A_i, \\mathrm{clip}(r_i, 1-\\epsilon, 1+\\epsilon) A_i)`.

    Notes
    -----
    Schulman et al. (2017), eq. 7: the min of the clipped and unclipped importance-weighted
    objectives.  With the weights of :class:`~tabular_pg.algorithms.oracles.PPODataset` this is
    :math:`\\tfrac{1}{1-\\gamma}\\mathbb E_{s\\sim d^{\\pi_t}, a\\sim\\pi_t}[\\min(\\cdot)]`,
    exact when the dataset is the exact oracle's.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(5, 3, 2, seed=0); pol = tpg.TabularSoftmax(5, 3); th = np.linspace(-1, 1, 15)
    >>> data = tpg.oracles.ExactOracle(mdp).query(pol, th).dataset()
    >>> clipped_surrogate(pol, th, data, 0.2) == 0.0 or abs(clipped_surrogate(pol, th, data, 0.2)) < 1e-12
    True
    """
    r, A = ratios(policy, theta, data), data.advantages
    return float(data.weights @ np.minimum(r * A, np.clip(r, 1 - clip, 1 + clip) * A))


def clipped_surrogate_gradient(policy, theta, data, clip: float, index: np.ndarray | None = None,
                               advantages: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
    """:math:`\\nabla_\\theta \\sum_{i} w_i \\min(r_i A_i, \\mathrm{clip}(r_i) A_i)` over ``index``, shape ``(d,)``.

    Parameters
    ----------
    index : ndarray of int, optional
        The samples summed over (all by default).
    advantages, weights : ndarray, optional
        Replace ``data.advantages[index]`` / ``data.weights[index]`` (e.g. normalised ones).

    Notes
    -----
    Sample ``i`` contributes :math:`w_i A_i \\nabla\\pi_\\theta(a_i|s_i)/\\pi_t(a_i|s_i)` while
    its unclipped term is the active one of the min -- :math:`r_i < 1+\\epsilon` when
    :math:`A_i \\ge 0`, :math:`r_i > 1-\\epsilon` when :math:`A_i < 0` -- and 0 otherwise.
    The sum is one vector-Jacobian product of the policy.  At :math:`\\theta = \\theta_t`
    every term is active and :math:`\\nabla L = \\sum_i w_i A_i \\psi_i`, the policy gradient.
    """
    index = np.arange(data.n) if index is None else index
    rows, old = data.rows(policy)[index], data.old_probs[index]
    A = data.advantages[index] if advantages is None else advantages
    w = data.weights[index] if weights is None else weights
    r = policy.probs(theta).reshape(-1)[rows] / old
    active = np.where(A >= 0, r < 1 + clip, r > 1 - clip)
    W = np.bincount(rows, weights=w * A * active / old, minlength=int(np.prod(policy.probs_shape)))
    return policy.vjp(theta, W.reshape(policy.probs_shape))


def _state_rows(policy, data, index) -> np.ndarray:
    """Row of ``policy.probs(theta).reshape(-1, A)`` holding each sample's (step,) state, shape ``(len(index),)``."""
    return data.rows(policy)[index] // policy.n_actions


def entropy_bonus(policy, theta, data, index: np.ndarray | None = None, weights: np.ndarray | None = None) -> float:
    """:math:`S(\\theta) = \\sum_i w_i H(\\pi_\\theta(\\cdot|s_i))`, :math:`H(p) = -\\sum_a p_a\\log p_a`, a float.

    Notes
    -----
    The entropy bonus :math:`S[\\pi_\\theta](s_t)` of Schulman et al. (2017), "Proximal Policy
    Optimization Algorithms", eq. 9, summed over the samples ``index`` (all by default) with
    the dataset's weights (or ``weights``), as CleanRL's ``entropy.mean()``.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(5, 3, 2, seed=0); pol = tpg.TabularSoftmax(5, 3)
    >>> data = tpg.oracles.ExactOracle(mdp).query(pol, pol.initial()).dataset()
    >>> bool(np.isclose(entropy_bonus(pol, pol.initial(), data), np.log(3) * data.weights.sum()))
    True
    """
    index = np.arange(data.n) if index is None else index
    w = data.weights[index] if weights is None else weights
    pi = policy.probs(theta).reshape(-1, policy.n_actions)
    H = -np.sum(pi * np.log(np.where(pi > 0, pi, 1.0)), axis=1)
    return float(w @ H[_state_rows(policy, data, index)])


def entropy_bonus_gradient(policy, theta, data, index: np.ndarray | None = None,
                           weights: np.ndarray | None = None) -> np.ndarray:
    """:math:`\\nabla_\\theta S(\\theta)` of :func:`entropy_bonus`, shape ``(d,)``.

    Notes
    -----
    :math:`\\partial H/\\partial\\pi(a|s) = -(\\log\\pi(a|s) + 1)`; with :math:`m(s) = \\sum_i w_i
    1[s_i = s]` the gradient is one vector-Jacobian product of the policy,
    :math:`\\sum_{s,a} -m(s)(\\log\\pi(a|s)+1)\\nabla\\pi(a|s)` (Schulman et al. 2017, eq. 9).
    """
    index = np.arange(data.n) if index is None else index
    w = data.weights[index] if weights is None else weights
    pi = policy.probs(theta).reshape(-1, policy.n_actions)
    m = np.bincount(_state_rows(policy, data, index), weights=w, minlength=pi.shape[0])
    W = -m[:, None] * (np.log(np.where(pi > 0, pi, 1.0)) + 1.0)
    return policy.vjp(theta, W.reshape(policy.probs_shape))


def normalized_advantages(A: np.ndarray, w: np.ndarray, reference: tuple | None = None) -> np.ndarray:
    """:math:`(A - \\bar A)/(\\sigma_A + 10^{-8})` under the weights ``w``, shape of ``A``.

    The ``w``-weighted mean and standard deviation (CleanRL's per-minibatch normalisation,
    with the sample weights of the dataset).  All-equal advantages give 0 (no signal).
    ``reference = (A_all, w_all)`` takes the mean and spread from there instead: a minibatch
    of one state-action pair has no spread of its own (Stable-Baselines3 does not normalise a
    minibatch of size 1), and normalising it by itself would zero its advantage.

    Examples
    --------
    >>> normalized_advantages(np.array([1., 3.]), np.array([1., 1.])).round(6).tolist()
    [-1.0, 1.0]
    >>> normalized_advantages(np.array([3.]), np.array([1.]), reference=(np.array([1., 3.]), np.ones(2))).round(6)
    array([1.])
    """
    A_ref, w_ref = (A, w) if reference is None else reference
    p = w_ref / w_ref.sum()
    mean = p @ A_ref
    sd = np.sqrt(p @ (A_ref - mean) ** 2)
    return (A - mean) / (sd + 1e-8) if sd > 1e-12 * max(1.0, np.abs(A_ref).max()) else np.zeros_like(A)


def sample_kl(policy, theta, data) -> float:
    """:math:`\\widehat{KL}(\\pi_t\\|\\pi_\\theta) = \\bar{\\mathbb E}_w[(r-1) - \\log r]`, a float >= 0.

    The nonnegative, unbiased "k3" estimator CleanRL's ``approx_kl`` uses, averaged with the
    dataset's weights (so the exact oracle's dataset gives the exact :math:`\\tilde d`-weighted KL).
    """
    r = ratios(policy, theta, data)
    with np.errstate(divide="ignore"):
        k3 = (r - 1) - np.log(r)
    return float(data.weights @ k3 / data.weights.sum())


@dataclass(frozen=True, eq=False)
class AdamState:
    """Adam's moments ``m, v`` (shape ``(d,)``) and step count ``k``, carried across iterations."""

    m: np.ndarray
    v: np.ndarray
    k: int = 0

    def __post_init__(self):
        freeze_fields(self, ("m", "v"))

    def step(self, g: np.ndarray, lr: float) -> tuple[np.ndarray, AdamState]:
        """Kingma & Ba (2015), Algorithm 1: the ascent step ``(d,)`` for gradient ``g`` and the new state."""
        b1, b2, eps = ADAM
        k, m, v = self.k + 1, b1 * self.m + (1 - b1) * g, b2 * self.v + (1 - b2) * g * g
        delta = lr * (m / (1 - b1 ** k)) / (np.sqrt(v / (1 - b2 ** k)) + eps)
        return delta, AdamState(m, v, k)


@dataclass(frozen=True)
class PPO(Algorithm):
    """PPO-clip (Schulman et al. 2017, Algorithm 1) with the standard implementation details.

    Parameters
    ----------
    clip : float > 0
        :math:`\\epsilon` of :math:`\\mathrm{clip}(r, 1-\\epsilon, 1+\\epsilon)` (0.2, the paper's).
    epochs : int >= 1
        Passes over the dataset per iteration (10, the paper's MuJoCo setting).
    step : float > 0
        Adam's learning rate, in logit units per step.  Default 0.3, measured with
        ``SampledOracle(n=50)`` over seeds 0-4 (median trajectories to 0.9 J* / 0.99 J*):
        tour garnet 200 / 300, uniform-reset chain H=8 350 / 500, Sutton-Barto grid
        200 / 400, every seed at 0.99 J*.  0.1 was slower (200/350, 450/900, 300/550);
        0.5 lost a chain seed (J stuck at 0.375 J*) and a grid seed (0.90 J* at the end);
        1.0 collapsed on FrozenLake.  CleanRL's 3e-4 is for network weights, not logits.
    minibatches : int >= 1
        Minibatches per epoch when ``minibatch`` is None (4, CleanRL's default).
    minibatch : int >= 1 or None
        Samples per minibatch instead (overrides ``minibatches``).
    optimizer : {"adam", "sgd"}
        Adam (Kingma & Ba 2015) whose moments persist across iterations in ``run``'s
        state (:class:`AdamState`), or plain ascent.
    normalize : bool
        Normalise the advantages per minibatch (:func:`normalized_advantages`).
    max_grad_norm : float > 0 or None
        Clip each minibatch gradient to this Euclidean norm (0.5, CleanRL's).
    target_kl : float > 0 or None
        Stop the epochs once :func:`sample_kl` exceeds it (None: never).
    entropy : float >= 0
        Coefficient :math:`c_2` of the entropy bonus (Schulman et al. 2017, eq. 9): each
        minibatch ascends :math:`L^{CLIP} + c_2 S` with :func:`entropy_bonus` under the same
        normalised weights (CleanRL's ``ent_coef``).  Default 0: measured with
        ``SampledOracle(n=50)``, seeds 0-4 (algorithm rng seed + 1), 200 iterations,
        FrozenLake 4x4 (gamma 0.99) ended at 0.24/0.14/0.57/0.32/0.96 J* without it,
        0.98/0.93/0.41/0.27/0.98 with 0.01 and 0.98/0.75/0.84/0.81/0.94 with 0.02 (0.99 J*
        on at most 1 seed either way), while 0.01 left a Sutton-Barto grid seed at 0.982 J*
        at the end (1.0 without).

    Notes
    -----
    A minibatch ``B`` ascends the ``w``-weighted mean of the clipped objective,
    :math:`\\sum_{i\\in B} w_i\\min(\\cdot)/\\sum_{i\\in B} w_i` (CleanRL's ``.mean()``, with
    the dataset's weights :math:`\\gamma^t/n` or :math:`\\tilde d\\pi_t`).  With the exact
    oracle the dataset is every visited (s, a): the surrogate's expectation is exact.
    An iteration whose advantages are all 0 has no signal: it warns (ConvergenceWarning)
    and leaves :math:`\\theta` unchanged.

    Examples
    --------
    >>> PPO()
    PPO(clip=0.2, epochs=10, step=0.3, minibatches=4, minibatch=None, optimizer='adam', normalize=True, \
max_grad_norm=0.5, target_kl=None, entropy=0.0)
    """

    clip: float = 0.2
    epochs: int = 10
    step: float = 0.3
    minibatches: int = 4
    minibatch: int | None = None
    optimizer: str = "adam"
    normalize: bool = True
    max_grad_norm: float | None = 0.5
    target_kl: float | None = None
    entropy: float = 0.0

    def __post_init__(self):
        positive_number("clip", self.clip)
        positive_number("entropy", self.entropy, allow_zero=True)
        positive_int("epochs", self.epochs)
        positive_number("step", self.step)
        positive_int("minibatches", self.minibatches)
        for name in ("minibatch",):
            if getattr(self, name) is not None:
                positive_int(name, getattr(self, name))
        for name in ("max_grad_norm", "target_kl"):
            if getattr(self, name) is not None:
                positive_number(name, getattr(self, name))
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}; got {self.optimizer!r}")
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be a bool; got {type(self.normalize).__name__}")

    @property
    def needs_rng(self) -> bool:
        return self.minibatch is not None or self.minibatches > 1

    def start(self, policy, theta):
        """Zero Adam moments (None for SGD): the state ``run`` carries from iteration to iteration."""
        return AdamState(np.zeros_like(theta), np.zeros_like(theta)) if self.optimizer == "adam" else None

    def _batches(self, n: int, rng) -> list[np.ndarray]:
        size = self.minibatch if self.minibatch is not None else -(-n // self.minibatches)
        if size >= n:
            return [np.arange(n)]
        order = rng.permutation(n)
        return [order[i:i + size] for i in range(0, n, size)]

    def _gradient(self, policy, theta, data, batch) -> np.ndarray:
        """Gradient ``(d,)`` of the minibatch's weighted-mean clipped objective, norm-clipped."""
        A, w = data.advantages[batch], data.weights[batch]
        if self.normalize:
            whole = (data.advantages, data.weights) if np.count_nonzero(w > 0) < 2 else None
            A = normalized_advantages(A, w, reference=whole)
        g = clipped_surrogate_gradient(policy, theta, data, self.clip, batch, A, w / w.sum())
        if self.entropy > 0:
            g = g + self.entropy * entropy_bonus_gradient(policy, theta, data, batch, w / w.sum())
        norm = np.linalg.norm(g)
        if self.max_grad_norm is not None and norm > self.max_grad_norm:
            g = g * (self.max_grad_norm / norm)
        return g

    def update(self, policy, theta, oracle, state, rng):
        data = oracle.query(policy, theta).dataset()
        if state is None and self.optimizer == "adam":
            state = self.start(policy, theta)
        if not np.any(data.advantages[data.weights > 0]):
            warnings.warn(f"{self!r}: every advantage of the batch is 0 (no learning signal); theta is unchanged",
                          ConvergenceWarning, stacklevel=3)
            return theta, state
        theta0 = theta
        for _ in range(self.epochs):
            for batch in self._batches(data.n, rng):
                g = self._gradient(policy, theta, data, batch)
                if self.optimizer == "sgd":
                    theta = theta + self.step * g
                else:
                    delta, state = state.step(g, self.step)
                    theta = theta + delta
            if self.target_kl is not None and sample_kl(policy, theta, data) > self.target_kl:
                break
        if np.array_equal(theta, theta0):
            warnings.warn(f"{self!r}: the update left theta unchanged (every gradient was 0)",
                          ConvergenceWarning, stacklevel=3)
        return theta, state
