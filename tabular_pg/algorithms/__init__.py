"""Policy-optimisation algorithms: small update rules, run against an oracle by :func:`run`.

``PolicyGradient``, ``NaturalPolicyGradient``, ``ConservativePolicyIteration``, ``PPO``,
``CEM``, ``PolicyMirrorDescent``, ``CubicNewton`` and ``RewardWeightedRegression`` each implement
``update(policy, theta, oracle, state, rng)``; :func:`run` iterates
one and returns a frozen :class:`History` with the exact J of every iterate.
"""
from tabular_pg.algorithms.cem import CEM
from tabular_pg.algorithms.cpi import (
    ConservativePolicyIteration,
    bound_step,
    greedy_policy,
    improvement_bound,
    policy_advantage,
)
from tabular_pg.algorithms.newton import CubicNewton
from tabular_pg.algorithms.npg import NaturalPolicyGradient
from tabular_pg.algorithms.pg import PolicyGradient
from tabular_pg.algorithms.pmd import PolicyMirrorDescent
from tabular_pg.algorithms.ppo import PPO, clipped_surrogate, clipped_surrogate_gradient
from tabular_pg.algorithms.run import Algorithm, History, run
from tabular_pg.algorithms.rwr import RewardWeightedRegression

__all__ = ["Algorithm", "History", "run", "PolicyGradient", "NaturalPolicyGradient",
           "ConservativePolicyIteration", "PPO", "CEM", "PolicyMirrorDescent", "clipped_surrogate",
           "clipped_surrogate_gradient", "improvement_bound", "bound_step", "policy_advantage", "greedy_policy",
           "CubicNewton", "RewardWeightedRegression"]
