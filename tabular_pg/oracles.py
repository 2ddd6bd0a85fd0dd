"""Oracles: what an algorithm may ask about the current policy, answered exactly or from samples.

An algorithm never computes returns itself (DESIGN.md, "the one idea").  It calls
``oracle.query(policy, theta)`` and reads the answers: the gradient, the Fisher matrix and
natural gradient, Q and advantages, the visitation, J, and the PPO dataset.  An
:class:`ExactOracle` answers by linear algebra (:func:`tabular_pg.evaluate`) at no sample
cost; a :class:`SampledOracle` rolls out ``n`` trajectories per query and answers every
question about that query from the same batch.  ``oracle.cost`` counts what all queries
so far consumed (trajectories and environment steps).

Scale conventions (DESIGN.md): ``visits`` is the unnormalised :math:`\\tilde d` (per step,
:math:`\\gamma^h d_h`, on a finite horizon); the PPO dataset's weights carry the same
scale, :math:`w(s,a) = \\tilde d(s)\\pi_t(a|s)`, so that
:math:`\\sum_i w_i r_\\theta A_i = \\tfrac{1}{1-\\gamma}\\mathbb E_{d,\\pi_t}[r_\\theta A]` and the
surrogate's gradient at :math:`\\theta_t` is :math:`\\nabla J`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .exact import Evaluation, evaluate
from .gradient import fisher_information, natural_gradient, policy_gradient
from .mdp import FiniteMDP
from .policies import Policy, TabularSoftmax

__all__ = ["Cost", "PPODataset", "ExactOracle", "ExactAnswers", "check_policy_fits", "freeze_arrays"]


def freeze_arrays(obj, names) -> None:
    """Replace the fields ``names`` of the frozen dataclass ``obj`` by read-only array copies."""
    for name in names:
        x = np.array(getattr(obj, name))
        x.setflags(write=False)
        object.__setattr__(obj, name, x)


@dataclass(frozen=True)
class Cost:
    """Samples consumed: whole trajectories and environment steps (0 and 0 when exact)."""

    trajectories: int = 0
    steps: int = 0

    def __add__(self, other: "Cost") -> "Cost":
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
        :math:`A^{\\pi_t}(s_i, a_i)`, exact or estimated, in value units.
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
        freeze_arrays(self, ("states", "actions", "steps", "old_probs", "advantages", "weights"))

    @property
    def n(self) -> int:
        return self.states.shape[0]

    def rows(self, policy: Policy) -> np.ndarray:
        """Flat index of each sample into ``policy.probs(theta).reshape(-1)``, shape ``(N,)``."""
        flat = self.states * policy.n_actions + self.actions
        if policy.horizon is not None:
            flat = flat + self.steps * policy.n_states * policy.n_actions
        return flat


def check_policy_fits(mdp: FiniteMDP, policy: Policy) -> None:
    """Raise ``ValueError`` unless ``policy`` has the states, actions and horizon of ``mdp``."""
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a tabular_pg Policy; got {type(policy).__name__}")
    if (policy.n_states, policy.n_actions) != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"policy has (S, A) = {(policy.n_states, policy.n_actions)} but the MDP has "
                         f"{(mdp.n_states, mdp.n_actions)}")
    if policy.horizon is not None and policy.horizon != mdp.horizon:
        raise ValueError(f"policy horizon {policy.horizon} differs from the MDP horizon {mdp.horizon}")


def block_natural_gradient(policy: Policy, F: np.ndarray, g: np.ndarray, damping: float) -> np.ndarray:
    """:math:`F^+ g` or :math:`(F+\\lambda I)^{-1} g`; block by block for a tabular softmax.

    A tabular softmax has a block-diagonal Fisher matrix (one ``A x A`` block per (step,)
    state), so the solve costs ``O(S A^3)`` instead of ``O((SA)^3)``.
    """
    if damping < 0 or not np.isfinite(damping):
        raise ValueError(f"damping must be a finite number >= 0; got {damping!r}")
    if isinstance(policy, TabularSoftmax):
        A = policy.n_actions
        M = g.size // A
        blocks = F.reshape(M, A, M, A)[np.arange(M), :, np.arange(M), :]
        gb = g.reshape(M, A)
        if damping > 0:
            return np.linalg.solve(blocks + damping * np.eye(A), gb[..., None])[..., 0].reshape(-1)
        return np.einsum("mab,mb->ma", np.linalg.pinv(blocks, rcond=1e-10, hermitian=True), gb).reshape(-1)
    if damping > 0:
        return np.linalg.solve(F + damping * np.eye(g.size), g)
    return np.linalg.pinv(F, rcond=1e-10, hermitian=True) @ g


class Answers:
    """What an oracle knows about one policy; shared behaviour of exact and sampled answers.

    Subclasses provide ``gradient``, ``fisher``, ``Q``, ``visits``, ``J``, ``dataset``
    and ``policy``/``theta``; the rest is derived here.
    """

    policy: Policy
    theta: np.ndarray

    @property
    def pi(self) -> np.ndarray:
        """:math:`\\pi_t`, shape ``policy.probs_shape``."""
        return self.policy.probs(self.theta)

    @property
    def V(self) -> np.ndarray:
        """:math:`V(s) = \\sum_a \\pi(a|s) Q(s,a)` of the (estimated) Q, shape ``(S,)`` or ``(H, S)``."""
        return (np.broadcast_to(self.pi, self.Q.shape) * self.Q).sum(axis=-1)

    @property
    def A(self) -> np.ndarray:
        """:math:`A = Q - V`, shape of ``Q``."""
        return self.Q - self.V[..., None]

    def natural_gradient(self, damping: float = 0.0) -> np.ndarray:
        """:math:`F^+ g` (or :math:`(F+\\lambda I)^{-1}g`) from this query's ``fisher`` and ``gradient``."""
        return block_natural_gradient(self.policy, self.fisher, self.gradient, damping)


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
        """:math:`\\nabla J` (policy-gradient theorem, lecture 002 §1), shape ``(d,)``."""
        return policy_gradient(self.mdp, self.policy, self.theta, evaluation=self.evaluation)

    @cached_property
    def fisher(self) -> np.ndarray:
        """:math:`F = \\mathbb E_{d,\\pi}[\\psi\\psi^\\top]` (lecture 002 §3), shape ``(d, d)``."""
        return fisher_information(self.mdp, self.policy, self.theta)

    def natural_gradient(self, damping: float = 0.0) -> np.ndarray:
        return natural_gradient(self.mdp, self.policy, self.theta, damping=damping)

    def dataset(self) -> PPODataset:
        """Every visited (step,) state-action pair, weighted by :math:`\\tilde d(s)\\pi_t(a|s)`.

        Examples
        --------
        >>> import mdps, tabular_pg as tpg
        >>> mdp = mdps.garnet(5, 3, 2, seed=0); pol = tpg.TabularSoftmax(5, 3)
        >>> ans = ExactOracle(mdp).query(pol, np.linspace(-1, 1, 15))
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

    def __repr__(self) -> str:
        return "ExactOracle()"

    def query(self, policy: Policy, theta) -> ExactAnswers:
        """Exact answers about :math:`\\pi_\\theta`."""
        check_policy_fits(self.mdp, policy)
        theta = policy.check_theta(theta).copy()
        theta.setflags(write=False)
        return ExactAnswers(self.mdp, policy, theta, evaluate(self.mdp, policy.probs(theta)))

    def value(self, policy: Policy, theta) -> float:
        """Exact :math:`J(\\pi_\\theta)` (the fitness of zero-order methods)."""
        check_policy_fits(self.mdp, policy)
        return evaluate(self.mdp, policy.probs(theta)).J
