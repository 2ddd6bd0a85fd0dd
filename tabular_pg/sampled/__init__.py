"""The sampled layer: trajectories, the estimators built on them, and their exact moments.

:mod:`~tabular_pg.sampled.rollout` (vectorised rollouts, :class:`Trajectories`),
:mod:`~tabular_pg.sampled.samplers` (row samplers; alias tables in :mod:`~tabular_pg.sampled.alias`),
:mod:`~tabular_pg.sampled.estimators` (REINFORCE, baselines, Q/A critics, GAE, (s,a)~d, Fisher),
:mod:`~tabular_pg.sampled.baselines`,
:mod:`~tabular_pg.sampled.importance` (off-policy importance weights),
:mod:`~tabular_pg.sampled.moments` (the exact mean and covariance of each estimator, by the
recursion of :mod:`~tabular_pg.sampled.moments_recursion`, run by the dense or block path of
:mod:`~tabular_pg.sampled.moments_blocks`, checked against the enumeration of
:mod:`~tabular_pg.sampled.moments_enumeration`), :mod:`~tabular_pg.sampled.registry` (every
estimator as one :class:`~tabular_pg.sampled.registry.EstimatorSpec` in ``ESTIMATORS``).
Imports the model and the exact layer only.
"""
from tabular_pg.sampled import estimators
from tabular_pg.sampled.registry import ESTIMATORS, EstimatorSpec, estimator_moments
from tabular_pg.sampled.rollout import StateActionSamples, Trajectories, rollout, sample_visitation

__all__ = ["Trajectories", "StateActionSamples", "rollout", "sample_visitation", "estimators", "estimator_moments",
           "ESTIMATORS", "EstimatorSpec"]
