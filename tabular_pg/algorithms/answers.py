"""What an oracle answers about one policy: :class:`ExactAnswers` (linear algebra) and
:class:`SampledAnswers` (one batch of trajectories), the PPO dataset and the sample cost.

Scale conventions: ``visits`` is the unnormalised :math:`\\tilde d` (per step,
:math:`\\gamma^h d_h`, on a finite horizon); the PPO dataset's weights carry the same
scale, :math:`w(s,a) = \\tilde d(s)\\pi_t(a|s)`, so that
:math:`\\sum_i w_i r_\\theta A_i = \\tfrac{1}{1-\\gamma}\\mathbb E_{d,\\pi_t}[r_\\theta A]` and the
surrogate's gradient at :math:`\\theta_t` is :math:`\\nabla J` (the surrogate of Schulman et
al. 2017 on the scale of J).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from tabular_pg._checks import freeze_fields
from tabular_pg.exact.evaluation import Evaluation, evaluate
from tabular_pg.exact.fisher import FisherMatrix, fisher_matrix, kl_rows
from tabular_pg.exact.gradient import fisher_information, policy_gradient, state_weights
from tabular_pg.exact.hessian import hessian, hessian_vector_product
from tabular_pg.exact.soft import check_entropy, entropy_weights, log_policy
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled import estimators
from tabular_pg.sampled.registry import ESTIMATORS
from tabular_pg.sampled.returns import ReturnTable, return_table
from tabular_pg.sampled.rollout import Trajectories

__all__ = ["Cost", "PPODataset", "Answers", "ExactAnswers", "SampledAnswers"]

@dataclass(frozen=True)
class Cost:
    """Samples consumed: whole trajectories and environment steps (0 and 0 when exact)."""

    trajectories: int = 0
    steps: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.trajectories + other.trajectories, self.steps + other.steps)


@dataclass(frozen=True, eq=False)
class PPODataset:
    """The data of one PPO iteration: ``N`` weighted samples of the current policy :math:`\\pi_t`.

    Attributes
    ----------
    states, actions, steps : ndarray of int, shape (N,)
        :math:`s_i, a_i` and the time step ``h_i`` (0 on an infinite horizon).
    old_probs : ndarray (N,)
        :math:`\\pi_t(a_i|s_i)` (of step ``h_i`` for a per-step policy).
    advantages : ndarray (N,)
        :math:`A^{\\pi_t}(s_i, a_i)`, exact or estimated, in value units (sampled default:
        GAE(0.95) with the batch's fitted tabular critic, Schulman et al. 2016 eq. 16).
    weights : ndarray (N,)
        Exact: :math:`\\tilde d(s)\\pi_t(a|s)` over every visited (step,) state-action pair;
        sampled: :math:`\\gamma^t/n` per sampled step.  The surrogate is :math:`\\sum_i w_i\\,\\ell_i`.
    """

    states: np.ndarray
    actions: np.ndarray
    steps: np.ndarray
    old_probs: np.ndarray
    advantages: np.ndarray
    weights: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("states", "actions", "steps", "old_probs", "advantages", "weights"))

    @property
    def n(self) -> int:
        return self.states.shape[0]

    def rows(self, policy: Policy) -> np.ndarray:
        """Flat index of each sample into ``policy.probs(theta).reshape(-1)``, shape ``(N,)``."""
        flat = self.states * policy.n_actions + self.actions
        if policy.horizon is not None:
            flat = flat + self.steps * policy.n_states * policy.n_actions
        return flat


class Answers:
    """What an oracle knows about one policy; shared behaviour of exact and sampled answers.

    Subclasses provide ``gradient``, ``fisher``, ``Q``, ``visits``, ``J``, ``dataset``
    and ``policy``/``theta``; the rest is derived here.
    """

    policy: Policy
    theta: np.ndarray

    if TYPE_CHECKING:       # what the subclasses provide (class docstring), declared for the type checker
        @property
        def Q(self) -> np.ndarray: ...

        @property
        def gradient(self) -> np.ndarray: ...

        @property
        def fisher_weights(self) -> np.ndarray: ...

    @property
    def pi(self) -> np.ndarray:
        """:math:`\\pi_t`, shape ``policy.probs_shape``."""
        return self.policy.probs(self.theta)

    @property
    def V(self) -> np.ndarray:
        """:math:`V(s) = \\sum_a \\pi(a|s) Q(s,a)` of the (estimated) Q, shape ``(S,)`` or ``(H, S)``."""
        return (np.broadcast_to(self.pi, self.Q.shape) * self.Q).sum(axis=-1)

    @property
    def Q_seen(self) -> np.ndarray:
        """Where ``Q`` is known, shape of ``Q``: everywhere for exact answers, sampled pairs for sampled ones."""
        return np.ones(self.Q.shape, dtype=bool)

    @property
    def A(self) -> np.ndarray:
        """:math:`A = Q - V`, shape of ``Q``."""
        return self.Q - self.V[..., None]

    @cached_property
    def fisher_matrix(self) -> FisherMatrix:
        """:math:`F = \\sum_s w(s)\\mathbb E_{a\\sim\\pi_s}[\\psi\\psi^\\top]` with this query's
        ``fisher_weights``: per-state blocks (tabular softmax, Direct) or dense (LogLinear)."""
        return fisher_matrix(self.policy, self.theta, self.fisher_weights)

    @property
    def fisher(self) -> np.ndarray:
        """The dense ``(d, d)`` Fisher matrix (only for users who ask; algorithms use ``fisher_matrix``)."""
        return self.fisher_matrix.dense()

    def natural_gradient(self, damping: float = 0.0) -> np.ndarray:
        """:math:`F^+ g` (or :math:`(F+\\lambda I)^{-1}g`) from ``fisher_matrix`` and ``gradient``, ``(d,)``.

        Kakade (2001), "A Natural Policy Gradient"; the one solve of
        :meth:`tabular_pg.exact.fisher.FisherMatrix.solve`.
        """
        return self.fisher_matrix.solve(self.gradient, damping)

    def kl(self, theta_new) -> float:
        """:math:`\\sum_s w(s) KL(\\pi_\\theta(\\cdot|s)\\|\\pi_{\\theta'}(\\cdot|s))` with the Fisher weights.

        Exact oracle: :func:`tabular_pg.kl_divergence` (``w = d``); sampled: the average over
        the sampled states (Schulman et al. 2015, "Trust Region Policy Optimization", eq. 12
        estimated as in §5).  Its Hessian at ``theta`` is ``fisher_matrix``; ``inf`` when
        ``theta_new`` rules out an action of a weighted state.
        """
        return self.kl_probs(self.policy.probs(theta_new))

    def kl_probs(self, pi_new: np.ndarray) -> float:
        """:meth:`kl` for the new policy's probabilities ``pi_new`` (shape ``policy.probs_shape``)."""
        w = self.fisher_weights
        kl = kl_rows(self.pi, pi_new)
        on = w > 0
        return float("inf") if np.isinf(kl[on]).any() else float(w[on] @ kl[on])


@dataclass(frozen=True, eq=False)
class ExactAnswers(Answers):
    """Exact answers about ``policy`` at ``theta`` on ``mdp`` (from one :class:`Evaluation`)."""

    mdp: FiniteMDP
    policy: Policy
    theta: np.ndarray
    evaluation: Evaluation
    cost: Cost = Cost()

    @property
    def Q(self) -> np.ndarray:
        return self.evaluation.Q

    @property
    def A(self) -> np.ndarray:
        return self.evaluation.A

    @property
    def visits(self) -> np.ndarray:
        """:math:`\\tilde d(s)` ``(S,)``, or :math:`\\gamma^h d_h(s)` ``(H, S)``."""
        return self.evaluation.visits

    @property
    def J(self) -> float:
        return self.evaluation.J

    @cached_property
    def gradient(self) -> np.ndarray:
        """:math:`\\nabla J` (policy-gradient theorem, "Lecture 15: Policy Optimization with Trust Regions" §1),
        shape ``(d,)``."""
        return policy_gradient(self.mdp, self.policy, self.theta, evaluation=self.evaluation,
                               entropy=self.evaluation.entropy)

    def soft(self, tau: float) -> ExactAnswers:
        """These answers for the entropy-regularised objective :math:`J_\\tau` (soft ``Q, A, J``,
        :math:`\\nabla J_\\tau`).

        One more exact evaluation, :func:`tabular_pg.evaluate` with ``entropy=tau``
        (Cen et al. 2021, "Fast Global Convergence of Natural Policy Gradient Methods with
        Entropy Regularization", §2).
        """
        return ExactAnswers(self.mdp, self.policy, self.theta, evaluate(self.mdp, self.pi, entropy=check_entropy(tau)))

    @property
    def fisher_weights(self) -> np.ndarray:
        """:math:`d(s)` (or :math:`\\sum_h d_h`, or :math:`d_h(s)`): the exact Fisher state weights."""
        return state_weights(self.evaluation, self.policy)

    @cached_property
    def fisher(self) -> np.ndarray:
        """:math:`F = \\mathbb E_{d,\\pi}[\\psi\\psi^\\top]` ("Lecture 15: Policy Optimization with Trust Regions" §3),
        dense ``(d, d)`` on request."""
        return fisher_information(self.mdp, self.policy, self.theta)

    @cached_property
    def hessian(self) -> np.ndarray:
        """:math:`\\nabla^2 J`, dense ``(d, d)`` (:func:`tabular_pg.exact.hessian.hessian`).

        Only exact answers have it: a sampled oracle supplies no Hessian estimate.
        """
        return hessian(self.mdp, self.policy, self.theta, evaluation=self.evaluation)

    def hessian_vector_product(self, v) -> np.ndarray:
        """:math:`\\nabla^2 J\\, v`, shape ``(d,)``, in two linear solves
        (:func:`tabular_pg.exact.hessian.hessian_vector_product`)."""
        return hessian_vector_product(self.mdp, self.policy, self.theta, v, evaluation=self.evaluation)

    def dataset(self) -> PPODataset:
        """Every visited (step,) state-action pair, weighted by :math:`\\tilde d(s)\\pi_t(a|s)`.

        Examples
        --------
        >>> import mdps, tabular_pg as tpg
        >>> mdp = mdps.garnet(5, 3, 2, seed=0); pol = tpg.TabularSoftmax(5, 3)
        >>> ans = tpg.ExactOracle(mdp).query(pol, np.linspace(-1, 1, 15))
        >>> data = ans.dataset()              # sum_i w_i A_i = E_{d, pi}[A] / (1 - gamma) = 0
        >>> bool(abs(data.weights @ data.advantages) < 1e-12)
        True
        """
        ev = self.evaluation
        pi = np.broadcast_to(ev.pi, ev.Q.shape)
        w = ev.visits[..., None] * pi
        if w.ndim == 2:
            w, pi, A = w[None], pi[None], ev.A[None]
        else:
            A = ev.A
        h, s, a = np.nonzero(w > 0)
        return PPODataset(states=s, actions=a, steps=h, old_probs=pi[h, s, a],
                          advantages=A[h, s, a], weights=w[h, s, a])


def _per_step_table(traj: Trajectories, x: np.ndarray, n_states: int, n_actions: int | None, stepwise: bool):
    """Sums of ``x (n, T)`` over active steps by (step,) state(, action): ``(T?, S, A?)``."""
    key = traj.states if n_actions is None else traj.states * n_actions + traj.actions
    size = n_states * (1 if n_actions is None else n_actions)
    if stepwise:
        key = key + np.arange(traj.T)[None, :] * size
    total = np.bincount(key[traj.mask], weights=x[traj.mask], minlength=size * (traj.T if stepwise else 1))
    shape = (n_states,) if n_actions is None else (n_states, n_actions)
    return total.reshape(((traj.T,) if stepwise else ()) + shape)


@dataclass(frozen=True, eq=False)
class SampledAnswers(Answers):
    """Answers estimated from one batch ``traj`` of trajectories of :math:`\\pi_\\theta`.

    ``Q`` and ``V`` are first-visit Monte Carlo means of :math:`G_t = \\sum_{t'\\ge t}\\gamma^{t'-t}r_{t'}`
    per (step,) state(-action), using only visits far enough from the truncation horizon
    (:mod:`tabular_pg.sampled.returns`; ``returns`` holds the counts); an unsampled pair is
    unknown, ``Q_seen`` is False there and ``Q = V`` (no evidence of an advantage); ``visits`` the empirical
    :math:`\\frac1n\\sum_i\\sum_t\\gamma^t 1[s_{it}=s]` (per step on a finite horizon); ``J`` the
    mean return.  The gradient and the PPO dataset use the oracle's estimator.
    """

    mdp: FiniteMDP
    policy: Policy
    theta: np.ndarray
    traj: Trajectories
    estimator: str
    options: dict
    cost: Cost

    @property
    def _stepwise(self) -> bool:
        return self.mdp.horizon is not None

    @cached_property
    def returns(self) -> ReturnTable:
        """First-visit :math:`\\hat Q, \\hat V` with counts (:func:`tabular_pg.sampled.returns.return_table`)."""
        return return_table(self.traj, self.mdp.n_states, self.mdp.n_actions)

    @cached_property
    def Q(self) -> np.ndarray:
        """:math:`\\hat Q`; an unsampled pair is unknown and gets :math:`\\hat V(s)` (so :math:`\\hat A = 0`)."""
        tab = self.returns
        return np.where(tab.Q_seen, tab.Q, self.V[..., None])

    @cached_property
    def V(self) -> np.ndarray:
        """:math:`\\hat V(s)`, the mean first-visit return from ``s`` (0 where ``s`` was never seen)."""
        tab = self.returns
        return np.where(tab.V_counts > 0, tab.V, 0.0)

    @property
    def Q_seen(self) -> np.ndarray:
        """Pairs with at least one usable sampled return, shape of ``Q``."""
        return self.returns.Q_seen

    @cached_property
    def visits(self) -> np.ndarray:
        traj = self.traj
        discounted = np.broadcast_to(traj.discounts, traj.states.shape)
        return _per_step_table(traj, discounted, self.mdp.n_states, None, self._stepwise) / traj.n

    @property
    def J(self) -> float:
        return float(self.traj.returns().mean())

    def _step_weights(self) -> np.ndarray:
        """:math:`W_t`, the weight of :math:`\\psi_t` in the estimator, shape ``(n, T)``."""
        spec = ESTIMATORS[self.estimator]
        if spec.weights is None:
            raise ValueError(f"estimator {self.estimator!r} has no step weights (it cannot be an oracle's)")
        options = {k: v for k, v in self.options.items() if k in spec.option_names}
        return spec.weights(self.traj, self.policy, self.theta, mdp=self.mdp, **spec.bind(options))

    @cached_property
    def gradient(self) -> np.ndarray:
        """The estimator's :math:`\\hat g = \\frac1n\\sum_i\\sum_t\\psi_{it}W_{it}`, shape ``(d,)``.

        Summed per (step,) state-action pair as one vector-Jacobian product,
        :math:`\\sum_{s,a} \\frac{\\bar W(s,a)}{\\pi(a|s)}\\nabla\\pi(a|s)`: no score table is built,
        so a ``Direct`` policy with zeros (where the score is undefined) works too.
        """
        data, pi = self._dataset, self.pi.reshape(-1)
        W = np.bincount(data.rows(self.policy), weights=data.weights * data.advantages, minlength=pi.size)
        W = np.divide(W, pi, out=np.zeros_like(W), where=W != 0)
        return self.policy.vjp(self.theta, W.reshape(self.policy.probs_shape))

    @cached_property
    def fisher_weights(self) -> np.ndarray:
        """The sampled state weights :math:`\\hat w(s)` (:func:`tabular_pg.sampled.estimators.fisher_state_weights`).

        So ``fisher_matrix`` is the Kakade (2001) / TRPO sampled Fisher: exact action
        expectation at the sampled states (:func:`tabular_pg.sampled.estimators.analytic_fisher`).
        """
        return estimators.fisher_state_weights(self.traj, self.policy)

    def dataset(self) -> PPODataset:
        """One sample per active step, weight :math:`\\gamma^t/n`, advantage :math:`W_t/\\gamma^t`.

        So :math:`\\sum_i w_i A_i \\psi_i` is exactly :attr:`gradient`: the sampled surrogate's
        gradient at :math:`\\theta_t` is the oracle's policy-gradient estimate.
        """
        return self._dataset

    def soft(self, tau: float) -> SampledAnswers:
        """The same batch with the entropy reward: :math:`r_t - \\tau\\log\\pi(a_t|s_t)` at every active step.

        The sampled return from step ``t`` then has mean :math:`Q_\\tau(s_t,a_t) - \\tau\\log\\pi(a_t|s_t)`,
        so every estimator of the oracle estimates :math:`\\nabla J_\\tau` (the extra
        :math:`-\\tau\\psi_t` has mean 0), ``J`` estimates :math:`J_\\tau`, and the first-visit ``Q``
        estimates :math:`Q_\\tau - \\tau\\log\\pi` (Cen et al. 2021, §2; no terminal-state entropy on
        ``gamma = 1`` tasks, as :mod:`tabular_pg.exact.soft`).  No new samples: ``cost`` is 0.
        """
        tau, traj, pi = check_entropy(tau), self.traj, self.pi
        steps = np.broadcast_to(np.arange(traj.T), traj.states.shape)
        log_pi = (log_policy(pi)[steps, traj.states, traj.actions] if pi.ndim == 3
                  else log_policy(pi)[traj.states, traj.actions])
        counts = traj.mask * entropy_weights(self.mdp)[traj.states]
        soft_traj = replace(traj, rewards=traj.rewards - tau * counts * log_pi)
        return replace(self, traj=soft_traj, cost=Cost())

    @cached_property
    def _dataset(self) -> PPODataset:
        traj = self.traj
        keep = traj.mask & (traj.discounts > 0)[None, :]
        i, t = np.nonzero(keep)
        disc = traj.discounts[t]
        s, a = traj.states[i, t], traj.actions[i, t]
        pi = self.pi
        old = pi[t, s, a] if pi.ndim == 3 else pi[s, a]
        return PPODataset(states=s, actions=a, steps=t, old_probs=old,
                          advantages=self._step_weights()[i, t] / disc, weights=disc / traj.n)
