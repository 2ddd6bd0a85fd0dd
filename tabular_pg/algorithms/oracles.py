"""Oracles: what an algorithm may ask about the current policy, answered exactly or from samples.

An algorithm never computes returns itself.  It calls ``oracle.query(policy, theta)`` and
reads the answers (:mod:`tabular_pg.algorithms.answers`): the gradient, the Fisher matrix and
natural gradient, Q and advantages, the visitation, J, and the PPO dataset.  An
:class:`ExactOracle` answers by linear algebra (:func:`tabular_pg.evaluate`) at no sample
cost; a :class:`SampledOracle` rolls out ``n`` trajectories per query and answers every
question about that query from the same batch.  ``oracle.cost`` counts what all queries
so far consumed (trajectories and environment steps).
"""
from __future__ import annotations

import numpy as np

from tabular_pg._checks import check_rng, positive_int
from tabular_pg.algorithms.answers import Cost, ExactAnswers, PPODataset, SampledAnswers
from tabular_pg.exact.evaluation import Evaluation, evaluate
from tabular_pg.exact.gradient import check_policy_fits
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled import estimators
from tabular_pg.sampled.critic import GAE_VALUES
from tabular_pg.sampled.registry import ESTIMATORS
from tabular_pg.sampled.rollout import Trajectories, rollout

__all__ = ["ExactOracle", "SampledOracle", "SAMPLED_ESTIMATORS", "Cost", "PPODataset"]

#: Gradient estimators a SampledOracle can use: the entries of
#: :data:`tabular_pg.sampled.registry.ESTIMATORS` marked ``oracle``.
SAMPLED_ESTIMATORS = tuple(name for name, spec in ESTIMATORS.items() if spec.oracle)


class ExactOracle:
    """Answers by exact evaluation; every answer costs 0 samples.

    Parameters
    ----------
    mdp : FiniteMDP

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(6, 3, 2, seed=0); pol = tpg.TabularSoftmax(6, 3)
    >>> oracle = ExactOracle(mdp)
    >>> ans = oracle.query(pol, pol.initial())
    >>> bool(np.allclose(ans.gradient, tpg.policy_gradient(mdp, pol, pol.initial())))
    True
    >>> oracle.cost
    Cost(trajectories=0, steps=0)
    """

    def __init__(self, mdp: FiniteMDP):
        if not isinstance(mdp, FiniteMDP):
            raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
        self.mdp = mdp
        self.cost = Cost()
        # (policy, theta bytes, Evaluation) of the last policy evaluated
        self._last: tuple[Policy | None, bytes, Evaluation | None] = (None, b"", None)

    def __repr__(self) -> str:
        return "ExactOracle()"

    def evaluation(self, policy: Policy, theta: np.ndarray) -> Evaluation:
        """:func:`~tabular_pg.exact.evaluate` of :math:`\\pi_\\theta`, reused when asked about the
        same policy and parameters again (``run`` measures J where the next query starts)."""
        last_policy, last_theta, ev = self._last
        if ev is not None and last_policy is policy and last_theta == theta.tobytes():
            return ev
        ev = evaluate(self.mdp, policy.probs(theta))
        self._last = (policy, theta.tobytes(), ev)
        return ev

    def query(self, policy: Policy, theta) -> ExactAnswers:
        """Exact answers about :math:`\\pi_\\theta`."""
        check_policy_fits(self.mdp, policy)
        theta = policy.check_theta(theta).copy()
        theta.setflags(write=False)
        return ExactAnswers(self.mdp, policy, theta, self.evaluation(policy, theta))

    def value(self, policy: Policy, theta) -> float:
        """Exact :math:`J(\\pi_\\theta)` (the fitness of zero-order methods)."""
        check_policy_fits(self.mdp, policy)
        return self.evaluation(policy, policy.check_theta(theta)).J


class SampledOracle:
    """Answers from ``n`` fresh trajectories per query; counts the samples it draws.

    Parameters
    ----------
    mdp : FiniteMDP
    n : int >= 1
        Trajectories per query (and per ``value`` call).
    rng : numpy.random.Generator
        The only randomness: a seeded generator makes every answer reproducible.
    estimator : {"gae", "reinforce"}
        The gradient (and PPO advantage) estimator of :mod:`tabular_pg.sampled.estimators`.
        Default ``"gae"``: GAE(:math:`\\lambda`) advantages from a tabular critic fitted on
        each batch (Schulman et al. 2016, eq. 16), the advantages of PPO (Schulman et al.
        2017, eq. 11-12).  ``"reinforce"``: the Monte Carlo return-to-go minus ``baseline``.
    baseline : None, float, "fitted", "value" or "optimal"
        REINFORCE baseline.  ``"value"``/``"optimal"`` use the *exact* :math:`V` (a perfect
        critic): they leak exact information into the "sampled" answers, so the default
        is None.
    reward_to_go : bool
        REINFORCE with reward-to-go (default) or total return.
    lam : float in [0, 1]
        GAE :math:`\\lambda` (default 0.95, as Schulman et al. 2017 and CleanRL).
    values : {"fitted", "exact"}
        GAE critic (:func:`tabular_pg.sampled.critic.critic_values`): ``"fitted"`` (default)
        the batch's least-squares tabular :math:`V` (:func:`tabular_pg.sampled.critic.fitted_critic`),
        ``"exact"`` the exact :math:`V_t` (a perfect critic: leaks exact information).

    Examples
    --------
    >>> import tabular_pg as tpg
    >>> P = np.ones((1, 2, 1)); mdp = tpg.FiniteMDP(P, [[1., 0.]], [1.], gamma=1.0, horizon=1)
    >>> pol = tpg.TabularSoftmax(1, 2)
    >>> oracle = SampledOracle(mdp, 1000, rng=np.random.default_rng(0))
    >>> ans = oracle.query(pol, pol.initial())
    >>> bool(abs(ans.J - 0.5) < 5 * 0.5 / np.sqrt(1000)), oracle.cost
    (True, Cost(trajectories=1000, steps=1000))
    """

    def __init__(self, mdp: FiniteMDP, n: int, *, rng: np.random.Generator, estimator: str = "gae",
                 baseline=None, reward_to_go: bool = True, lam: float = 0.95, values: str = "fitted"):
        if not isinstance(mdp, FiniteMDP):
            raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
        positive_int("n", n, "an int >= 1 (trajectories per query)")
        check_rng(rng)
        estimators.check_lam(lam)
        checks = [
            ("estimator", f"one of {SAMPLED_ESTIMATORS}", estimator, estimator in SAMPLED_ESTIMATORS),
            ("baseline", f"None, a number or one of {estimators.BASELINES}", baseline,
             not isinstance(baseline, str) or baseline in estimators.BASELINES),
            ("values", f"one of {GAE_VALUES}", values, values in GAE_VALUES),
        ]
        for name, expected, got, ok in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}; got {got!r}")
        self.mdp, self.n, self.rng, self.estimator = mdp, int(n), rng, estimator
        self.options = dict(baseline=baseline, reward_to_go=bool(reward_to_go), lam=float(lam), values=values)
        self.cost = Cost()

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"SampledOracle(n={self.n}, estimator={self.estimator!r}, {opts})"

    def _rollout(self, policy: Policy, theta) -> tuple[np.ndarray, Trajectories]:
        check_policy_fits(self.mdp, policy)
        theta = policy.check_theta(theta).copy()
        theta.setflags(write=False)
        traj = rollout(self.mdp, policy.probs(theta), self.n, self.rng)
        self.cost = self.cost + Cost(traj.n, int(traj.mask.sum()))
        return theta, traj

    def query(self, policy: Policy, theta) -> SampledAnswers:
        """Answers about :math:`\\pi_\\theta` from ``n`` new trajectories."""
        theta, traj = self._rollout(policy, theta)
        return SampledAnswers(self.mdp, policy, theta, traj, self.estimator, dict(self.options),
                              Cost(traj.n, int(traj.mask.sum())))

    def value(self, policy: Policy, theta) -> float:
        """Mean return of ``n`` new trajectories: an unbiased estimate of :math:`J(\\pi_\\theta)`."""
        return float(self._rollout(policy, theta)[1].returns().mean())
