"""Proximal policy optimisation: the clipped surrogate of lecture 003, ascended in minibatches."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabular_pg.algorithms.run import Algorithm, positive_int, positive_number

__all__ = ["PPO", "clipped_surrogate", "clipped_surrogate_gradient", "ratios"]

_OPTIMIZERS = ("sgd", "adam")


def ratios(policy, theta, data) -> np.ndarray:
    """:math:`r_\\theta = \\pi_\\theta(a_i|s_i)/\\pi_t(a_i|s_i)`, shape ``(N,)``."""
    return policy.probs(theta).reshape(-1)[data.rows(policy)] / data.old_probs


def clipped_surrogate(policy, theta, data, clip: float) -> float:
    """:math:`L(\\theta) = \\sum_i w_i \\min(r_i A_i, \\mathrm{clip}(r_i, 1-\\epsilon, 1+\\epsilon) A_i)`.

    Notes
    -----
    Lecture 003, "Trick 2": the min of the clipped and unclipped importance-weighted
    objectives.  With the weights of :class:`~tabular_pg.algorithms.oracles.PPODataset` this is
    :math:`\\tfrac{1}{1-\\gamma}\\mathbb E_{s\\sim d^{\\pi_t}, a\\sim\\pi_t}[\\min(\\cdot)]`
    (DESIGN.md surrogate scale), exact when the dataset is the exact oracle's.

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


def clipped_surrogate_gradient(policy, theta, data, clip: float, index: np.ndarray | None = None) -> np.ndarray:
    """:math:`\\nabla_\\theta L` over the samples ``index`` (all by default), shape ``(d,)``.

    Notes
    -----
    Sample ``i`` contributes :math:`w_i A_i \\nabla\\pi_\\theta(a_i|s_i)/\\pi_t(a_i|s_i)` while
    its unclipped term is the active one of the min -- :math:`r_i < 1+\\epsilon` when
    :math:`A_i \\ge 0`, :math:`r_i > 1-\\epsilon` when :math:`A_i < 0` -- and 0 otherwise.
    The sum is one vector-Jacobian product of the policy.  At :math:`\\theta = \\theta_t`
    every term is active and :math:`\\nabla L = \\sum_i w_i A_i \\psi_i`, the policy gradient.
    """
    rows = data.rows(policy)
    r, A = ratios(policy, theta, data), data.advantages
    active = np.where(A >= 0, r < 1 + clip, r > 1 - clip)
    coef = data.weights * A * active / data.old_probs
    if index is not None:
        rows, coef = rows[index], coef[index]
    W = np.bincount(rows, weights=coef, minlength=int(np.prod(policy.probs_shape)))
    return policy.vjp(theta, W.reshape(policy.probs_shape))


@dataclass(frozen=True)
class PPO(Algorithm):
    """PPO-clip: several epochs of minibatch ascent on the clipped surrogate of the current policy.

    Parameters
    ----------
    clip : float > 0
        :math:`\\epsilon` of :math:`\\mathrm{clip}(r, 1-\\epsilon, 1+\\epsilon)`.
    epochs : int >= 1
        Passes over the dataset per iteration.
    step : float > 0
        Learning rate of the optimiser.
    minibatch : int >= 1 or None
        Samples per minibatch (None: the full batch, deterministic).  A minibatch
        gradient is scaled by ``N / len(batch)``, so it is unbiased for the full one.
    optimizer : {"sgd", "adam"}
        Plain ascent, or Adam (Kingma & Ba 2015; moments reset every iteration).

    Notes
    -----
    Lecture 003 ("PPO"): collect :math:`\\mathcal D = \\{s, a, A^{\\pi_{\\theta_t}}(s,a)\\}`,
    then :math:`\\theta_{t+1} \\approx \\arg\\max_\\theta \\hat\\ell_{final}(\\theta)` "via a few
    epochs of minibatch SG ascent (or Adam)".  With the exact oracle the dataset is every
    visited (s, a) weighted by :math:`\\tilde d(s)\\pi_t(a|s)`: the surrogate's expectation
    is taken exactly.

    Examples
    --------
    >>> PPO(clip=0.2, epochs=4, step=0.5, minibatch=None)
    PPO(clip=0.2, epochs=4, step=0.5, minibatch=None, optimizer='sgd')
    """

    clip: float = 0.2
    epochs: int = 10
    step: float = 0.1
    minibatch: int | None = None
    optimizer: str = "sgd"

    def __post_init__(self):
        positive_number("clip", self.clip)
        positive_int("epochs", self.epochs)
        positive_number("step", self.step)
        if self.minibatch is not None:
            positive_int("minibatch", self.minibatch)
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}; got {self.optimizer!r}")

    @property
    def needs_rng(self) -> bool:
        return self.minibatch is not None

    def _batches(self, n: int, rng) -> list[np.ndarray | None]:
        if self.minibatch is None or self.minibatch >= n:
            return [None]
        order = rng.permutation(n)
        return [order[i:i + self.minibatch] for i in range(0, n, self.minibatch)]

    def update(self, policy, theta, oracle, state, rng):
        data = oracle.query(policy, theta).dataset()
        m = v = np.zeros_like(theta)
        k = 0
        for _ in range(self.epochs):
            for batch in self._batches(data.n, rng):
                g = clipped_surrogate_gradient(policy, theta, data, self.clip, batch)
                if batch is not None:
                    g = g * (data.n / batch.size)
                if self.optimizer == "sgd":
                    theta = theta + self.step * g
                    continue
                k += 1
                m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
                theta = theta + self.step * (m / (1 - 0.9 ** k)) / (np.sqrt(v / (1 - 0.999 ** k)) + 1e-8)
        return theta, state
