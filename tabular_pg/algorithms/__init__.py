"""Policy-optimisation algorithms: small update rules, run against an oracle by :func:`run`.

``PolicyGradient``, ``NaturalPolicyGradient``, ``ConservativePolicyIteration``, ``PPO`` and
``CEM`` each implement ``update(policy, theta, oracle, state, rng)``; :func:`run` iterates
one and returns a frozen :class:`History` with the exact J of every iterate.
"""
from .cem import CEM
from .cpi import ConservativePolicyIteration, bound_step, greedy_policy, improvement_bound, policy_advantage
from .npg import NaturalPolicyGradient
from .pg import PolicyGradient
from .ppo import PPO, clipped_surrogate, clipped_surrogate_gradient
from .run import Algorithm, History, run

__all__ = ["Algorithm", "History", "run", "PolicyGradient", "NaturalPolicyGradient",
           "ConservativePolicyIteration", "PPO", "CEM", "clipped_surrogate", "clipped_surrogate_gradient",
           "improvement_bound", "bound_step", "policy_advantage", "greedy_policy"]
