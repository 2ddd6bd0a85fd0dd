"""The exact layer: every quantity of a policy on a finite MDP, by linear algebra.

:mod:`~tabular_pg.exact.evaluation` (V, Q, A, visitation, J), :mod:`~tabular_pg.exact.gradient`
(policy gradient, Fisher blocks, natural gradient, trust region, KL, performance difference),
:mod:`~tabular_pg.exact.linsolve` and :mod:`~tabular_pg.exact.matvec` (the solvers),
:mod:`~tabular_pg.exact.planning` (the optimum), :mod:`~tabular_pg.exact.batch` (many policies
at once) and :mod:`~tabular_pg.exact.rational` (exact rational arithmetic, imported on demand:
it loads sympy).  Imports only the model (``tabular_pg.mdp``, ``tabular_pg.policies``).
"""
from tabular_pg.exact.batch import BatchEvaluation, evaluate_batch
from tabular_pg.exact.evaluation import Evaluation, check_policy, evaluate, transition_matrix
from tabular_pg.exact.gradient import (
    fisher_information,
    kl_divergence,
    natural_gradient,
    performance_difference,
    policy_gradient,
    trust_region_step,
)
from tabular_pg.exact.linsolve import ConvergenceWarning, PrecisionWarning
from tabular_pg.exact.planning import Optimum, optimum, value_iteration

__all__ = ["Evaluation", "evaluate", "check_policy", "transition_matrix", "policy_gradient", "fisher_information",
           "natural_gradient", "trust_region_step", "kl_divergence", "performance_difference", "Optimum",
           "optimum", "value_iteration", "BatchEvaluation", "evaluate_batch", "ConvergenceWarning",
           "PrecisionWarning"]
