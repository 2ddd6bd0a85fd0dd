"""Policy-gradient ascent: REINFORCE from the oracle, or the policy-gradient theorem on Q-hat tables."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tabular_pg._checks import positive_number
from tabular_pg.algorithms.run import Algorithm
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.policies import Direct

__all__ = ["PolicyGradient", "table_gradient"]

#: Gradient sources of :class:`PolicyGradient`.
CRITICS = ("table", "oracle")


def table_gradient(answers) -> np.ndarray:
    """:math:`\\hat g = \\sum_s \\tilde d(s)\\sum_a \\nabla\\pi(a|s)\\,A(s,a)` from the answers' tables, shape ``(d,)``.

    Notes
    -----
    The policy-gradient theorem with an advantage critic (Sutton et al. 2000, "Policy
    Gradient Methods for Reinforcement Learning with Function Approximation", Theorem 1;
    "Lecture 15: Policy Optimization with Trust Regions" §1): the baseline :math:`V(s)` drops out since
    :math:`\\sum_a\\nabla\\pi = 0`.
    Exact answers give the exact :math:`\\nabla J`; sampled answers the empirical
    :math:`\\tilde d` times the first-visit :math:`\\hat A` (0 for unsampled pairs).  A stationary
    policy on a finite horizon sums the per-step weights :math:`\\gamma^h d_h(s) A_h(s,a)`.
    """
    W = answers.visits[..., None] * answers.A
    if W.ndim > len(answers.policy.probs_shape):
        W = W.sum(axis=0)
    return answers.policy.vjp(answers.theta, W)


@dataclass(frozen=True)
class PolicyGradient(Algorithm):
    """Gradient ascent :math:`\\theta_{t+1} = \\theta_t + \\eta\\, g_t / \\|g_t\\|` (or :math:`+\\eta g_t`).

    Parameters
    ----------
    step : float > 0
        The step size :math:`\\eta` (default 2.0): the length of the step in parameter
        (logit) space when ``normalize``, else the factor of the raw gradient.
    normalize : bool
        Divide the gradient by its Euclidean norm (default True): the step is then
        independent of the reward scale and of the size of the MDP.
    critic : {"table", "oracle"}
        ``"table"`` (default): :func:`table_gradient`, the policy-gradient theorem on the
        oracle's :math:`\\tilde d` and :math:`\\hat A`; ``"oracle"``: the oracle's own
        estimate (REINFORCE from a :class:`SampledOracle`, "Lecture 6: The Policy Gradient" eq. 21/26).

    Notes
    -----
    "Lecture 6: The Policy Gradient" eq. (4) (gradient ascent); normalised gradient ascent (Nesterov 2004,
    §3.2.3).  With exact answers both critics give :math:`\\nabla J` (policy-gradient
    theorem, "Lecture 15: Policy Optimization with Trust Regions" §1).  For a :class:`Direct` policy the step is
    projected back onto the simplex (Agarwal et al. 2021 §4.1).  The defaults were measured against
    a ``SampledOracle(n=50)``, seeds 0..4: 0.99 J* after 350 trajectories on a 10-state
    garnet, 950-1,050 on the Sutton-Barto grid, 900-1,200 on the uniform-reset chain
    (H = 8); REINFORCE without a baseline at a raw step needs a different step per MDP
    (its gradient scales with the rewards).  A zero gradient warns
    (:class:`~tabular_pg.exact.linsolve.ConvergenceWarning`): the update cannot move.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.bandit([0.2, 0.5, 0.9]); pol = tpg.TabularSoftmax(1, 3)
    >>> oracle = tpg.oracles.ExactOracle(mdp)
    >>> th, _ = PolicyGradient(step=2.0, normalize=False).update(pol, pol.initial(), oracle, None, None)
    >>> bool(np.allclose(th, 2.0 * tpg.policy_gradient(mdp, pol, pol.initial())))
    True
    """

    step: float = 2.0
    normalize: bool = True
    critic: str = "table"

    def __post_init__(self):
        positive_number("step", self.step)
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be a bool; got {type(self.normalize).__name__}")
        if self.critic not in CRITICS:
            raise ValueError(f"critic must be one of {CRITICS}; got {self.critic!r}")

    def update(self, policy, theta, oracle, state, rng):
        answers = oracle.query(policy, theta)
        g = table_gradient(answers) if self.critic == "table" else answers.gradient
        norm = float(np.linalg.norm(g))
        if norm == 0:
            warnings.warn("PolicyGradient: the gradient estimate is exactly 0; the update cannot move",
                          ConvergenceWarning, stacklevel=2)
            return theta, state
        theta = theta + self.step * (g / norm if self.normalize else g)
        if isinstance(policy, Direct):
            theta = policy.project(theta)
        return theta, state
