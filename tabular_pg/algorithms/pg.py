"""Policy-gradient ascent (REINFORCE when the oracle samples)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabular_pg.policies import Direct
from tabular_pg.algorithms.run import Algorithm, positive_number

__all__ = ["PolicyGradient"]


@dataclass(frozen=True)
class PolicyGradient(Algorithm):
    """Gradient ascent :math:`\\theta_{t+1} = \\theta_t + \\eta\\, g_t`.

    Parameters
    ----------
    step : float > 0
        The step size :math:`\\eta`.

    Notes
    -----
    Lecture 000 eq. (4) (gradient ascent) with :math:`g_t = \\nabla J(\\theta_t)` from the
    oracle: exact, or REINFORCE (lecture 000 eq. 21/26) from a :class:`SampledOracle`.
    For a :class:`Direct` policy the step is projected back onto the simplex
    (projected gradient ascent, Agarwal et al. 2021 §4.1).

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.bandit([0.2, 0.5, 0.9]); pol = tpg.TabularSoftmax(1, 3)
    >>> oracle = tpg.oracles.ExactOracle(mdp)
    >>> th, _ = PolicyGradient(step=2.0).update(pol, pol.initial(), oracle, None, None)
    >>> bool(np.allclose(th, 2.0 * tpg.policy_gradient(mdp, pol, pol.initial())))
    True
    """

    step: float

    def __post_init__(self):
        positive_number("step", self.step)

    def update(self, policy, theta, oracle, state, rng):
        theta = theta + self.step * oracle.query(policy, theta).gradient
        if isinstance(policy, Direct):
            theta = policy.project(theta)
        return theta, state
