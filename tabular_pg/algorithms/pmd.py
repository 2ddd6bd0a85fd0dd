"""Policy mirror descent: a proximal Q-ascent step per state, with the KL or the Euclidean mirror map."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabular_pg._checks import positive_number
from tabular_pg.algorithms.run import Algorithm
from tabular_pg.policies import Direct, TabularSoftmax

__all__ = ["PolicyMirrorDescent", "MIRRORS", "mirror_step"]

#: The mirror maps (Bregman divergences) of :class:`PolicyMirrorDescent`.
MIRRORS = ("kl", "euclidean")


def mirror_step(pi: np.ndarray, Q: np.ndarray, eta: float, mirror: str) -> np.ndarray:
    """:math:`\\arg\\max_{p\\in\\Delta} \\eta\\langle Q(s,\\cdot), p\\rangle - D(p, \\pi(\\cdot|s))` for every row,
    shape of ``pi``.

    ``"kl"``: :math:`D = KL(p\\|\\pi_s)`, solved by :math:`p \\propto \\pi_s e^{\\eta Q(s,\\cdot)}` (an action
    of probability 0 stays at 0); ``"euclidean"``: :math:`D = \\tfrac12\\|p-\\pi_s\\|^2`, solved by the
    projection of :math:`\\pi_s + \\eta Q(s,\\cdot)` onto the simplex (exact, sort-based; Duchi et al.
    2008, :meth:`tabular_pg.Direct.project`).  Lan (2022), "Policy mirror descent for
    reinforcement learning", eq. (2.3); Xiao (2022), "On the convergence rates of policy
    gradient methods", eq. (23) and §4.1-4.2.  Both are invariant to adding a constant to a row of ``Q``.

    Examples
    --------
    >>> pi = np.array([[0.5, 0.5]]); Q = np.array([[1.0, 0.0]])
    >>> mirror_step(pi, Q, np.log(3), "kl").round(12).tolist()
    [[0.75, 0.25]]
    >>> mirror_step(pi, Q, 0.2, "euclidean").round(12).tolist()
    [[0.6, 0.4]]
    """
    A = pi.shape[-1]
    if mirror == "kl":
        with np.errstate(divide="ignore"):
            z = np.log(pi) + eta * (Q - Q.max(axis=-1, keepdims=True))
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    flat = (pi + eta * Q).reshape(-1, A)
    return Direct(flat.shape[0], A).project(flat.reshape(-1)).reshape(pi.shape)


@dataclass(frozen=True)
class PolicyMirrorDescent(Algorithm):
    """:math:`\\pi_{t+1}(\\cdot|s) = \\arg\\max_{p\\in\\Delta}\\eta_t\\langle Q^{\\pi_t}(s,\\cdot), p\\rangle
    - D(p, \\pi_t(\\cdot|s))`.

    Parameters
    ----------
    step : float > 0
        :math:`\\eta_0` (default 1.0).
    mirror : {"kl", "euclidean"}
        The Bregman divergence :math:`D` (default ``"kl"``), see :func:`mirror_step`.
    step_growth : float >= 1
        :math:`\\eta_t = \\eta_0\\,\\text{step\\_growth}^t` (default 1: constant steps).
        ``step_growth >= 1/gamma`` gives the linear rate of Xiao (2022), Thm 10 (see
        :mod:`tabular_pg.algorithms.guarantees`).

    Notes
    -----
    Lan (2022), "Policy mirror descent for reinforcement learning: linear convergence, new
    sampling complexity, and generalized problem classes", Algorithm 1 without regulariser;
    Xiao (2022), "On the convergence rates of policy gradient methods", §4.  The step is taken
    in probability space on the oracle's :math:`Q` (its advantages: a per-state constant does
    not change the step), so it runs unchanged against an exact or a sampled oracle (where an
    unsampled pair has :math:`\\hat A = 0`).  With the KL on a :class:`~tabular_pg.TabularSoftmax`
    the update is :math:`\\theta_{t+1} = \\theta_t + \\eta_t A^{\\pi_t}`: NPG with step
    :math:`\\eta_t(1-\\gamma)` (Agarwal et al. 2021, Lemma 5.1).  The Euclidean map puts
    probabilities at exactly 0, so it needs a :class:`~tabular_pg.Direct` policy.  As
    :math:`\\eta_t\\to\\infty` both become policy iteration (the Euclidean step exactly once
    :math:`\\eta_t` times every state's Q-gap exceeds 1).  A per-step policy on a finite horizon takes
    the step per step with :math:`Q_h`.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(6, 3, 2, seed=0, gamma=0.9); pol = tpg.Direct(6, 3)
    >>> hist = tpg.run(PolicyMirrorDescent(step=1.0, mirror="euclidean"), mdp, pol, pol.initial(),
    ...                tpg.ExactOracle(mdp), 40)
    >>> bool(np.all(np.diff(hist.J) >= -1e-12)), bool(tpg.optimum(mdp).J - hist.J[-1] < 1e-6)
    (True, True)
    """

    step: float = 1.0
    mirror: str = "kl"
    step_growth: float = 1.0

    def __post_init__(self):
        positive_number("step", self.step)
        if self.mirror not in MIRRORS:
            raise ValueError(f"mirror must be one of {MIRRORS}; got {self.mirror!r}")
        if positive_number("step_growth", self.step_growth) < 1:
            raise ValueError(f"step_growth must be >= 1; got {self.step_growth!r}")

    def start(self, policy, theta) -> int:
        """The iteration counter ``t`` (the step is :math:`\\eta_0\\,\\text{step\\_growth}^t`)."""
        return 0

    def step_at(self, t: int) -> float:
        """:math:`\\eta_t`."""
        return float(self.step * self.step_growth ** t)

    def _check_policy(self, policy, answers) -> None:
        kinds = (TabularSoftmax, Direct) if self.mirror == "kl" else (Direct,)
        if not isinstance(policy, kinds):
            raise ValueError(f"mirror={self.mirror!r} needs a policy of type {' or '.join(k.__name__ for k in kinds)}; "
                             f"got {type(policy).__name__}")
        if answers.A.shape != policy.probs_shape:
            raise ValueError(f"the oracle's Q has shape {answers.A.shape} but the policy {policy.probs_shape}: "
                             "on a finite horizon use a per-step policy (horizon=H)")

    def update(self, policy, theta, oracle, t, rng):
        answers = oracle.query(policy, theta)
        self._check_policy(policy, answers)
        eta, A = self.step_at(t), answers.A
        if isinstance(policy, TabularSoftmax):
            return theta + eta * A.reshape(-1), t + 1
        return mirror_step(answers.pi, A, eta, self.mirror).reshape(-1), t + 1
