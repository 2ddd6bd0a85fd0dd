"""tabular-pg: exact policy-gradient quantities on finite MDPs, and their sampled estimates.

The public API (see DESIGN.md): build a :class:`FiniteMDP`, choose a policy
parameterisation, and ask for exact quantities (:func:`evaluate`, :func:`policy_gradient`,
:func:`fisher_information`, :func:`natural_gradient`, :func:`kl_divergence`, ...).
"""
from . import algorithms, estimators, io, oracles, rational
from .algorithms import (CEM, PPO, Algorithm, ConservativePolicyIteration, History, NaturalPolicyGradient,
                         PolicyGradient, run)
from .exact import (Evaluation, evaluate, fisher_information, kl_divergence, natural_gradient,
                    performance_difference, policy_gradient, transition_matrix, trust_region_step)
from .linsolve import ConvergenceWarning, PrecisionWarning
from .batch import BatchEvaluation, evaluate_batch
from .mdp import FiniteMDP
from .oracles import Cost, ExactOracle, PPODataset, SampledOracle
from .moments import estimator_moments
from .planning import Optimum, optimum, value_iteration
from .policies import Direct, LogLinear, Policy, TabularSoftmax
from .sampling import StateActionSamples, Trajectories, rollout, sample_visitation

__version__ = "0.1.0"

__all__ = [
    "FiniteMDP", "Policy", "TabularSoftmax", "LogLinear", "Direct",
    "Evaluation", "evaluate", "policy_gradient", "fisher_information", "natural_gradient",
    "trust_region_step", "kl_divergence", "performance_difference", "transition_matrix",
    "Optimum", "optimum", "value_iteration", "ConvergenceWarning", "PrecisionWarning", "rational",
    "Trajectories", "StateActionSamples", "rollout", "sample_visitation", "estimators", "estimator_moments",
    "oracles", "ExactOracle", "SampledOracle", "Cost", "PPODataset",
    "algorithms", "run", "History", "Algorithm", "PolicyGradient", "NaturalPolicyGradient",
    "ConservativePolicyIteration", "PPO", "CEM", "BatchEvaluation", "evaluate_batch", "io",
]
