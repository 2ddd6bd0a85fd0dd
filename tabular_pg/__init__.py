"""tabular-pg: exact policy-gradient quantities on finite MDPs, and their sampled estimates.

Build a :class:`FiniteMDP`, choose a policy parameterisation, and ask for exact quantities
(:func:`evaluate`, :func:`policy_gradient`, :func:`hessian`, :func:`fisher_information`,
:func:`natural_gradient`, :func:`kl_divergence`, ...), their sampled estimates
(:func:`rollout`, :mod:`estimators`, :func:`estimator_moments`), or run an algorithm against
an exact or a sampled oracle (:func:`run`).  The layers, each importing only those above it
in this list: the model (``mdp``, ``policies``), ``exact``, ``sampled``, ``algorithms``,
``io``, ``sweep``, ``cli``.  ``tabular_pg.exact.rational`` (sympy) is imported when first used.
"""
from tabular_pg import algorithms, io
from tabular_pg._version import __version__
from tabular_pg.algorithms import (
    CEM,
    PPO,
    Algorithm,
    ConservativePolicyIteration,
    History,
    NaturalPolicyGradient,
    PolicyGradient,
    PolicyMirrorDescent,
    oracles,
    run,
)
from tabular_pg.algorithms.newton import CubicNewton
from tabular_pg.algorithms.oracles import Cost, ExactOracle, PPODataset, SampledOracle
from tabular_pg.algorithms.rwr import RewardWeightedRegression
from tabular_pg.exact import (
    BatchEvaluation,
    ConvergenceWarning,
    Evaluation,
    Optimum,
    PrecisionWarning,
    evaluate,
    evaluate_batch,
    fisher_information,
    kl_divergence,
    natural_gradient,
    optimum,
    performance_difference,
    policy_gradient,
    transition_matrix,
    trust_region_step,
    value_iteration,
)
from tabular_pg.exact.hessian import hessian, hessian_vector_product
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Direct, LogLinear, Policy, TabularSoftmax
from tabular_pg.sampled import (
    StateActionSamples,
    Trajectories,
    estimator_moments,
    estimators,
    rollout,
    sample_visitation,
)

__all__ = [
    "FiniteMDP", "Policy", "TabularSoftmax", "LogLinear", "Direct",
    "Evaluation", "evaluate", "policy_gradient", "fisher_information", "natural_gradient",
    "trust_region_step", "kl_divergence", "performance_difference", "transition_matrix",
    "Optimum", "optimum", "value_iteration", "ConvergenceWarning", "PrecisionWarning", "rational",
    "Trajectories", "StateActionSamples", "rollout", "sample_visitation", "estimators", "estimator_moments",
    "oracles", "ExactOracle", "SampledOracle", "Cost", "PPODataset",
    "algorithms", "run", "History", "Algorithm", "PolicyGradient", "NaturalPolicyGradient",
    "ConservativePolicyIteration", "PPO", "CEM", "PolicyMirrorDescent", "BatchEvaluation", "evaluate_batch", "io",
    "hessian", "hessian_vector_product", "CubicNewton", "RewardWeightedRegression", "__version__",
]


def __getattr__(name: str):
    """``tabular_pg.exact.rational`` on first use, so that ``import tabular_pg`` does not load sympy."""
    if name == "rational":
        from tabular_pg.exact import rational
        return rational
    raise AttributeError(f"module 'tabular_pg' has no attribute {name!r}")
