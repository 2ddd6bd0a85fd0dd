"""Sampled policy-gradient estimators, their baselines, and the sampled Fisher matrix.

Every trajectory estimator here has the form

.. math:: \\hat g(\\tau) = \\sum_t \\psi_t(s_t, a_t)\\, W_t(\\tau), \\qquad
          \\psi_t = \\nabla_\\theta \\log \\pi_\\theta(a_t|s_t),

with a weight :math:`W_t` that carries the full discount :math:`\\gamma^t` of step ``t``
(so that :math:`\\mathbb E[\\hat g] = \\nabla J` with :math:`J` as :func:`tabular_pg.evaluate` defines it):

* ``reinforce`` total return: :math:`W_t = R(\\tau) - \\gamma^t b_t(s_t)` ("Lecture 6: The Policy Gradient" eq. 21);
* ``reinforce`` reward-to-go: :math:`W_t = \\sum_{t'\\ge t}\\gamma^{t'} r_{t'} - \\gamma^t b_t(s_t)`
  ("Lecture 6: The Policy Gradient" eq. 26; the discount is :math:`\\gamma^{t'}`, counted from 0, not from ``t``:
  this is the unbiased form, :math:`\\gamma^{t'-t}` would estimate a different vector);
* ``qvalue``: :math:`W_t = \\gamma^t Q_t(s_t,a_t)` or :math:`\\gamma^t A_t(s_t,a_t)` ("Policy Gradient (continued)",
  "Policy Gradient w/ :math:`Q_h`"), exact critic or Monte Carlo (= reward-to-go);
* ``gae``: :math:`W_t = \\gamma^t \\sum_{l\\ge0} (\\gamma\\lambda)^l \\delta_{t+l}`,
  :math:`\\delta_t = r_t + \\gamma V_{t+1}(s_{t+1}) - V_t(s_t)` (Schulman et al. 2016, eq. 16).

The baseline :math:`b_t(s)` is in value units (``"value"`` uses the exact :math:`V_t`), so
a constant ``c`` subtracts :math:`\\gamma^t c`.  The state-action estimator ``visitation``
uses :math:`(s,a)\\sim d` from geometric stopping ("Lecture 15: Policy Optimization with Trust Regions" §1).  Exact
per-step quantities of an infinite-horizon MDP are those of the horizon-``T`` truncation the
trajectories were sampled on.
"""
from __future__ import annotations

import numpy as np

from tabular_pg._checks import as_float_array, check_finite, unit_interval
from tabular_pg.exact.evaluation import evaluate
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled.baselines import (
    BASELINES,
    baseline_values,
    check_baseline,
    fitted_values,
    optimal_baseline,
    step_evaluation,
    values_at_visits,
)
from tabular_pg.sampled.critic import GAE_VALUES, critic_values
from tabular_pg.sampled.fisher_estimates import analytic_fisher, fisher, fisher_state_weights, natural_gradient
from tabular_pg.sampled.importance import check_importance, check_truncation, importance_weights
from tabular_pg.sampled.rollout import StateActionSamples, Trajectories
from tabular_pg.sampled.scores import check_inputs, required_mdp, weighted_scores

__all__ = ["reinforce", "qvalue", "gae", "visitation", "fisher", "fisher_state_weights", "analytic_fisher",
           "natural_gradient", "reinforce_weights", "qvalue_weights", "gae_weights", "check_critic", "CRITICS",
           "BASELINES", "step_evaluation", "optimal_baseline", "fitted_values", "weighted_scores"]

#: Critics of :func:`qvalue` and :func:`visitation`: the exact Q, or the sampled return.
CRITICS = ("exact", "monte_carlo")


def reinforce(traj: Trajectories, policy: Policy, theta, reward_to_go: bool = False, baseline=None,
              mdp: FiniteMDP | None = None, per_trajectory: bool = False, behaviour=None,
              importance: str = "per_decision", truncation=None) -> np.ndarray:
    """REINFORCE: :math:`\\hat g = \\sum_t \\psi_t (W_t - \\gamma^t b_t(s_t))`, mean ``(d,)`` or ``(n, d)``.

    Parameters
    ----------
    traj : Trajectories
    policy : Policy
    theta : array_like (d,)
    reward_to_go : bool
        False: :math:`W_t = R(\\tau)` ("Lecture 6: The Policy Gradient" eq. 21); True:
        :math:`W_t = \\sum_{t' \\ge t}\\gamma^{t'} r_{t'}` ("Lecture 6: The Policy Gradient" eq. 26, full discount).
    baseline : None, float, or one of ``"value"`` (exact :math:`V_t`), ``"fitted"``
        (per-(step, state) average from this batch: biased), ``"optimal"`` (exact
        :math:`b^*`, :func:`optimal_baseline`).
    mdp : FiniteMDP, needed by ``"value"`` and ``"optimal"``.
    per_trajectory : bool
        Return the per-trajectory estimates ``(n, d)`` instead of their mean.
    behaviour : None or array_like (S, A)
        Off-policy: the behaviour policy :math:`\\beta` that sampled ``traj`` (None: ``traj``
        comes from :math:`\\pi` itself); the terms are importance weighted
        (:mod:`tabular_pg.sampled.importance`).
    importance : ``"per_decision"`` (needs ``reward_to_go=True``) or ``"trajectory"``
        How the ratios :math:`\\pi/\\beta` weight the terms (used when ``behaviour`` or ``truncation`` is given).
    truncation : None or float > 0
        :math:`\\bar c`: every ratio is :math:`\\min(\\bar c, \\pi/\\beta)` (biased, lower variance;
        :mod:`tabular_pg.sampled.importance` says what the mean is then).

    Notes
    -----
    Unbiased for any action-independent baseline, since
    :math:`\\mathbb E_{a\\sim\\pi}[\\psi(s,a)] b(s) = 0` ("Lecture 15: Policy Optimization with Trust Regions",
    baselines).

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> from tabular_pg.sampled.rollout import rollout
    >>> P = np.zeros((1, 2, 1)) + 1; mdp = tpg.FiniteMDP(P, [[1., 0.]], [1.], gamma=1.0, horizon=1)
    >>> pol = tpg.TabularSoftmax(1, 2); th = pol.initial()
    >>> traj = rollout(mdp, pol.probs(th), 4000, np.random.default_rng(0))
    >>> g = reinforce(traj, pol, th, baseline="value", mdp=mdp)   # one step: psi * A, A = +-1/2
    >>> bool(np.allclose(g, tpg.policy_gradient(mdp, pol, th)))
    True
    """
    W = reinforce_weights(traj, policy, theta, reward_to_go, baseline, mdp, behaviour, importance, truncation)
    return weighted_scores(traj, policy, policy.check_theta(theta), W, per_trajectory)


def reinforce_weights(traj: Trajectories, policy: Policy, theta, reward_to_go: bool = False, baseline=None,
                      mdp: FiniteMDP | None = None, behaviour=None, importance: str = "per_decision",
                      truncation=None) -> np.ndarray:
    """REINFORCE step weights :math:`W_t = G_t - \\gamma^t b_t(s_t)`, shape ``(n, T)``; see :func:`reinforce`.

    :math:`G_t = R(\\tau)` ("Lecture 6: The Policy Gradient" eq. 21) or :math:`\\sum_{t'\\ge t}\\gamma^{t'}r_{t'}`
    (eq. 26). No score is computed, so a policy with zero probabilities is fine.
    """
    check_baseline(baseline)
    theta = check_inputs(traj, policy, theta, mdp, isinstance(baseline, str) and baseline != "fitted")
    G = traj.rewards_to_go() if reward_to_go else np.broadcast_to(traj.returns()[:, None], traj.states.shape)
    b = traj.discounts * baseline_values(traj, policy, theta, baseline, mdp, reward_to_go)
    if behaviour is None and truncation is None:
        check_importance(importance)
        return G - b
    check_truncation(truncation)
    return importance_weights(traj, policy.probs(theta), behaviour, G, b, reward_to_go, importance, truncation)


def qvalue(traj: Trajectories, policy: Policy, theta, mdp: FiniteMDP | None = None, critic: str = "exact",
           advantage: bool = False, per_trajectory: bool = False) -> np.ndarray:
    """Critic-based estimator :math:`\\sum_t \\gamma^t \\psi_t \\hat Q_t` (or :math:`\\hat A_t`).

    Notes
    -----
    "Policy Gradient (continued)" (policy gradient with :math:`Q_h`; value baseline gives :math:`A_h`) and
    "Lecture 15: Policy Optimization with Trust Regions" §1.  ``critic="exact"`` uses the exact :math:`Q_t`/:math:`A_t`
    (the perfect critic); ``critic="monte_carlo"`` the sampled reward-to-go, which is REINFORCE with
    reward-to-go (baseline :math:`V_t` for the advantage).

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> from tabular_pg.sampled.rollout import rollout
    >>> P = np.ones((1, 2, 1)); mdp = tpg.FiniteMDP(P, [[1., 0.]], [1.], gamma=1.0, horizon=1)
    >>> pol = tpg.TabularSoftmax(1, 2); th = pol.initial()
    >>> traj = rollout(mdp, pol.probs(th), 10, np.random.default_rng(0))
    >>> bool(np.allclose(qvalue(traj, pol, th, mdp, advantage=True), [0.25, -0.25]))
    True
    """
    W = qvalue_weights(traj, policy, theta, mdp, critic, advantage)
    return weighted_scores(traj, policy, policy.check_theta(theta), W, per_trajectory)


def check_critic(critic) -> None:
    """ValueError unless ``critic`` is one of :data:`CRITICS`."""
    if not (isinstance(critic, str) and critic in CRITICS):
        raise ValueError(f"critic must be one of {CRITICS}; got {critic!r}")


def qvalue_weights(traj: Trajectories, policy: Policy, theta, mdp: FiniteMDP | None = None, critic: str = "exact",
                   advantage: bool = False) -> np.ndarray:
    """Critic step weights :math:`W_t = \\gamma^t Q_t(s_t,a_t)` (or :math:`A_t`), shape ``(n, T)``.

    "Policy Gradient (continued)" (policy gradient with :math:`Q_h`); see :func:`qvalue`.
    """
    if critic == "monte_carlo":
        return reinforce_weights(traj, policy, theta, True, "value" if advantage else None, mdp)
    check_critic(critic)
    theta = check_inputs(traj, policy, theta, mdp, True)
    ev = step_evaluation(required_mdp(mdp), policy.probs(theta), traj.T)
    table = ev.A if advantage else ev.Q
    return table[np.arange(traj.T)[None, :], traj.states, traj.actions] * traj.discounts


def check_lam(lam) -> None:
    """ValueError/TypeError unless ``lam`` is a real number in [0, 1] (:func:`~tabular_pg._checks.unit_interval`)."""
    unit_interval("lam", lam)


def value_table(values, T: int, S: int) -> np.ndarray:
    """A number, ``(S,)`` or ``(T, S)`` array of finite values as a ``(T, S)`` table (a new array)."""
    V = as_float_array("values", values)
    try:
        V = np.array(np.broadcast_to(V, (T, S)))
    except ValueError:
        raise ValueError(f"values must be a number or have shape (S,) or (T, S) = {(T, S)}; got {V.shape}") from None
    check_finite("values", V)
    return V


def gae_advantages(traj: Trajectories, V: np.ndarray, lam: float) -> np.ndarray:
    """:math:`\\hat A_t = \\sum_{l\\ge0}(\\gamma\\lambda)^l \\delta_{t+l}` for values ``V (T, S)``, shape ``(n, T)``.

    :math:`V_{t+1}(s_{t+1}) = 0` after the last step and at terminal states (masked steps).
    """
    V_here = values_at_visits(traj, V) * traj.mask
    V_next = np.zeros_like(V_here)
    V_next[:, :-1] = V_here[:, 1:]
    delta = (traj.rewards + traj.gamma * V_next - V_here) * traj.mask
    adv = np.zeros_like(delta)
    running = np.zeros(traj.n)
    for t in range(traj.T - 1, -1, -1):                       # loop over time, vectorised over trajectories
        running = delta[:, t] + traj.gamma * lam * running
        adv[:, t] = running
    return adv


def gae(traj: Trajectories, policy: Policy, theta, lam: float, values="exact", mdp: FiniteMDP | None = None,
        per_trajectory: bool = False) -> np.ndarray:
    """GAE(λ) policy gradient :math:`\\sum_t \\gamma^t\\psi_t \\hat A^{GAE(\\gamma,\\lambda)}_t`.

    Parameters
    ----------
    lam : float in [0, 1]
    values : ``"exact"`` (exact :math:`V_t`, needs ``mdp``), ``"fitted"`` (the batch's tabular
        critic, :func:`tabular_pg.sampled.critic.fitted_critic`), or a number / an array
        ``(S,)`` / ``(T, S)``.

    Notes
    -----
    Schulman et al. (2016), eq. (16).  With the exact :math:`V` every :math:`\\delta_{t+l}`,
    ``l >= 1``, has conditional mean 0, so the estimator is unbiased for every λ; with
    an imperfect ``V`` it is biased unless λ = 1 (then it is REINFORCE with baseline V).

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> from tabular_pg.sampled.rollout import rollout
    >>> P = np.ones((1, 2, 1)); mdp = tpg.FiniteMDP(P, [[1., 0.]], [1.], gamma=1.0, horizon=2)
    >>> pol = tpg.TabularSoftmax(1, 2); th = pol.initial()
    >>> traj = rollout(mdp, pol.probs(th), 50, np.random.default_rng(0))
    >>> bool(np.allclose(gae(traj, pol, th, 0.0, mdp=mdp), qvalue(traj, pol, th, mdp, advantage=True)))
    True
    """
    W = gae_weights(traj, policy, theta, lam, values, mdp)
    return weighted_scores(traj, policy, policy.check_theta(theta), W, per_trajectory)


def gae_weights(traj: Trajectories, policy: Policy, theta, lam: float, values="exact",
                mdp: FiniteMDP | None = None) -> np.ndarray:
    """GAE step weights :math:`W_t = \\gamma^t \\hat A^{GAE(\\gamma,\\lambda)}_t`, shape ``(n, T)``; see :func:`gae`.

    Schulman et al. (2016), eq. (16).  No score is computed.
    """
    check_lam(lam)
    theta = check_inputs(traj, policy, theta, mdp, isinstance(values, str) and values == "exact")
    if isinstance(values, str):
        if values not in GAE_VALUES:
            raise ValueError(f"values must be one of {GAE_VALUES} or an array; got {values!r}")
        V = critic_values(traj, values, policy.n_states, mdp, policy.probs(theta) if values == "exact" else None)
    else:
        V = value_table(values, traj.T, policy.n_states)
    return gae_advantages(traj, V, lam) * traj.discounts


def visitation(samples: StateActionSamples, policy: Policy, theta, mdp: FiniteMDP | None = None,
               critic: str = "exact", advantage: bool = False, per_trajectory: bool = False) -> np.ndarray:
    """The (s,a)~d estimator :math:`\\frac{1}{1-\\gamma}\\psi(s,a)(\\hat Q(s,a) - b(s))`.

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §1 ("one final gradient estimate"): unbiased for
    :math:`\\nabla J = \\frac{1}{1-\\gamma}\\mathbb E_{d}[\\psi Q]`.  ``critic="exact"``: exact
    :math:`Q`; ``"monte_carlo"``: the geometric-length return of :func:`sample_visitation`.
    ``advantage=True`` subtracts the exact :math:`V(s)`
    (the baseline of "Lecture 15: Policy Optimization with Trust Regions").
    """
    check_critic(critic)
    theta = check_inputs(samples, policy, theta, mdp, critic == "exact" or advantage)
    if not isinstance(samples, StateActionSamples):
        raise TypeError("visitation needs StateActionSamples (tabular_pg.sampled.rollout.sample_visitation)")
    ev = evaluate(mdp, policy.probs(theta)) if mdp is not None else None   # not None if needed (check_inputs)
    q = ev.Q[samples.states, samples.actions] if ev is not None and critic == "exact" else samples.q_returns
    if ev is not None and advantage:
        q = q - ev.V[samples.states]
    psi = policy.score(theta)[samples.states, samples.actions]
    g = psi * (q / (1 - samples.gamma))[:, None]
    return g if per_trajectory else g.mean(axis=0)


