"""Natural policy gradient: fixed step, or the trust-region step of TRPO with a line search."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tabular_pg._checks import positive_int, positive_number
from tabular_pg.algorithms.answers import ExactAnswers
from tabular_pg.algorithms.run import Algorithm
from tabular_pg.exact.linsolve import ConvergenceWarning

__all__ = ["NaturalPolicyGradient", "SAMPLED_DAMPING", "DEFAULT_DELTA", "surrogate_gain"]

#: Default Tikhonov damping of the sampled Fisher matrix (``damping=None`` with a sampled
#: oracle).  The Fisher weights sum to 1 (``d`` is a distribution; ``H`` on a finite
#: horizon), so a block's eigenvalues are at most :math:`w(s)`; 0.01 is the conjugate-gradient
#: damping of the OpenAI Baselines TRPO (``cg_damping=1e-2``).  Measured with ``n = 50`` and
#: ``DEFAULT_DELTA``: 0.1 and 1.0 needed 2-3x the trajectories of 0.01 to reach 0.9 J*.
SAMPLED_DAMPING = 0.01

#: The trust region used when neither ``step`` nor ``delta`` is given.  Chosen by measurement
#: (tour garnet, uniform-reset chain H = 8, Sutton-Barto grid; ``n = 50``, seeds 0-4, 200
#: iterations): 0.5 reached 0.9 J* fastest (median 100 / 250 / 150 trajectories) but did not
#: stay there (the worst grid seed ended at 0.25 J*, a garnet seed fell to 0.71 J*); 0.1 needs
#: 150 / 400 / 300 and ends every run at >= 0.985 J*, as stable as the TRPO-style reference
#: at 0.05 (bench/reference_pg.py), whose worst grid seed ends at 0.92 J*.
DEFAULT_DELTA = 0.1


def surrogate_gain(answers, policy):
    """The function :math:`\\pi' \\mapsto \\hat L(\\pi') - \\hat L(\\pi_\\theta)` of new probabilities ``probs_shape``.

    The importance-sampled surrogate of Schulman et al. (2015), "Trust Region Policy
    Optimization", eq. (14), :math:`\\sum_i w_i (\\pi'(a_i|s_i)/\\pi_\\theta(a_i|s_i) - 1) A_i` on
    the oracle's dataset; exact: :math:`\\sum_s\\tilde d(s)\\sum_a (\\pi'-\\pi_\\theta)(a|s)A(s,a)`,
    the first-order performance difference (Kakade & Langford 2002, Lemma 6.1).
    """
    if isinstance(answers, ExactAnswers):
        dA, pi = answers.visits[..., None] * answers.A, answers.pi
        return lambda pi_new: float(np.sum(dA * (pi_new - pi)))
    data = answers.dataset()
    rows, coef = data.rows(policy), data.weights * data.advantages
    return lambda pi_new: float(coef @ (pi_new.reshape(-1)[rows] / data.old_probs - 1.0))


@dataclass(frozen=True)
class NaturalPolicyGradient(Algorithm):
    """:math:`\\theta_{t+1} = \\theta_t + \\alpha_t (F_t+\\lambda I)^{+} g_t`: fixed step, or TRPO's step.

    Parameters
    ----------
    step : float > 0, optional
        Fixed :math:`\\alpha` (give at most one of ``step`` and ``delta``).
    delta : float > 0, optional
        Default :data:`DEFAULT_DELTA` = 0.1 when ``step`` is not given.  Trust region on the
        average KL over (step,) states, :math:`\\bar d_{KL} = \\sum_s w(s) KL_s / \\sum_s w(s) \\le \\delta`
        (``w`` = the Fisher weights: :math:`d` exact, the sampled visitation otherwise; the
        average over samples of TRPO): first try :math:`\\alpha_t = \\sqrt{2\\delta / g_t^\\top w_t}`,
        :math:`w_t = (\\bar F_t+\\lambda I)^+ g_t`, :math:`\\bar F = F/\\sum_s w(s)`, then halve it
        (``backtrack``) until the realised :math:`\\bar d_{KL}` is at most ``kl_slack * delta`` and
        the surrogate improves.  With the exact oracle on an infinite horizon without terminal
        states :math:`\\sum_s d(s) = 1`: the trust region of :func:`tabular_pg.trust_region_step`;
        on a horizon ``H`` it is the per-step average (the trajectory KL divided by ``H``).
    damping : float >= 0 or None
        Tikhonov :math:`\\lambda`.  None (default): 0 (pseudo-inverse) with an exact oracle,
        :data:`SAMPLED_DAMPING` = 0.01 with a sampled one.
    backtrack : float in (0, 1)
        Line-search shrink factor (default 0.5).
    max_backtracks : int >= 1
        Step sizes tried (default 10: down to :math:`2^{-9}\\alpha_t`).
    kl_slack : float >= 1
        Accept a realised KL up to ``kl_slack * delta`` (default 1.5, as in TRPO's reference
        implementation, which shrinks the step when ``kl > 1.5 max_kl``).
    entropy : float >= 0
        Temperature :math:`\\tau` of entropy regularisation (default 0): ascend
        :math:`J_\\tau` with the fixed ``step`` :math:`\\eta` (required),
        :math:`\\theta_{t+1} = \\theta_t + \\eta F^+\\nabla J_\\tau` (Cen, Cheng, Chen, Wei & Chi 2021,
        "Fast Global Convergence of Natural Policy Gradient Methods with Entropy Regularization",
        eq. 16).  For a tabular softmax this is
        :math:`\\pi_{t+1} \\propto \\pi_t^{1-\\eta\\tau/(1-\\gamma)}\\exp(\\eta Q_\\tau^{(t)}/(1-\\gamma))` (their
        eq. 17): with :math:`\\eta = (1-\\gamma)/\\tau` soft policy iteration, and for
        :math:`0 < \\eta \\le (1-\\gamma)/\\tau` linear convergence,
        :math:`\\|Q^*_\\tau - Q^{(t+1)}_\\tau\\|_\\infty \\le C_1\\gamma(1-\\eta\\tau)^t` (their Thm 1).  The
        answers are the oracle's :meth:`soft` answers (sampled: the same batch with the
        entropy reward).

    Notes
    -----
    Kakade (2001), "A Natural Policy Gradient"; Schulman et al. (2015), "Trust Region Policy
    Optimization", Appendix C: the step maximises :math:`g^\\top\\Delta` subject to
    :math:`\\tfrac12\\Delta^\\top F\\Delta \\le \\delta`, the second-order expansion of
    :math:`d_{KL}` (see :func:`tabular_pg.trust_region_step`), followed by a backtracking
    line search on the realised average KL (:meth:`Answers.kl` over the summed weights: exact
    with an exact oracle, the sampled-state average otherwise) and on the surrogate
    (:func:`surrogate_gain`).  The sampled Fisher matrix is Kakade's (exact action
    expectation at the sampled states).  With a tabular softmax and the exact oracle,
    :math:`F^+g = A/(1-\\gamma)` up to a per-state constant (Agarwal et al. 2021, Lemma 5.1).

    An update that cannot move -- a direction that is not finite or not an ascent direction
    (:math:`g^\\top w \\le 0`, e.g. a zero gradient), or a line search that finds no step --
    warns with :class:`~tabular_pg.exact.linsolve.ConvergenceWarning` and keeps ``theta``.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(5, 3, 2, seed=4); pol = tpg.TabularSoftmax(5, 3); th = pol.initial()
    >>> oracle = tpg.oracles.ExactOracle(mdp)
    >>> new, _ = NaturalPolicyGradient(delta=1e-4).update(pol, th, oracle, None, None)
    >>> bool(np.allclose(new, tpg.trust_region_step(mdp, pol, th, 1e-4)))
    True
    """

    step: float | None = None
    delta: float | None = None
    damping: float | None = None
    backtrack: float = 0.5
    max_backtracks: int = 10
    kl_slack: float = 1.5
    entropy: float = 0.0

    def __post_init__(self):
        if self.step is not None and self.delta is not None:
            raise ValueError(f"give at most one of step and delta; got step={self.step!r}, delta={self.delta!r}")
        if self.step is None and self.delta is None:
            object.__setattr__(self, "delta", DEFAULT_DELTA)
        if self.step is not None:
            positive_number("step", self.step)
        else:
            positive_number("delta", self.delta)
        if self.damping is not None:
            positive_number("damping", self.damping, allow_zero=True)
        if not 0 < positive_number("backtrack", self.backtrack) < 1:
            raise ValueError(f"backtrack must lie in (0, 1); got {self.backtrack!r}")
        positive_int("max_backtracks", self.max_backtracks)
        if positive_number("kl_slack", self.kl_slack) < 1:
            raise ValueError(f"kl_slack must be >= 1; got {self.kl_slack!r}")
        if positive_number("entropy", self.entropy, allow_zero=True) > 0 and self.step is None:
            raise ValueError(f"entropy={self.entropy!r} needs a fixed step (Cen et al. 2021); got step=None")

    def damping_for(self, answers) -> float:
        """The damping used with these answers (resolves ``damping=None``)."""
        if self.damping is not None:
            return float(self.damping)
        return 0.0 if isinstance(answers, ExactAnswers) else SAMPLED_DAMPING

    def update(self, policy, theta, oracle, state, rng):
        answers = oracle.query(policy, theta)
        damping = self.damping_for(answers)
        if self.entropy > 0:
            answers = answers.soft(self.entropy)
        if self.step is not None:
            w = answers.natural_gradient(damping)
            return (theta + self.step * w if self.ascends(answers, w) else theta.copy()), state
        mass = float(np.sum(answers.fisher_weights))
        mass = mass if mass > 0 else 1.0
        w = mass * answers.natural_gradient(mass * damping)     # (F / mass + lambda I)^+ g
        if not self.ascends(answers, w):
            return theta.copy(), state
        alpha = np.sqrt(2 * self.delta / float(answers.gradient @ w))
        return self.line_search(policy, theta, answers, w, alpha, mass), state

    def ascends(self, answers, w) -> bool:
        """True if ``w`` is finite with :math:`g^\\top w > 0`; otherwise warn (ConvergenceWarning)."""
        gw = float(answers.gradient @ w)
        if np.all(np.isfinite(w)) and np.isfinite(gw) and gw > 0:
            return True
        warnings.warn(f"{self!r}: the natural gradient is not a finite ascent direction (g^T w = {gw!r}); "
                      f"theta is kept", ConvergenceWarning, stacklevel=3)
        return False

    def line_search(self, policy, theta, answers, w, alpha, mass: float = 1.0) -> np.ndarray:
        """The first :math:`\\theta+\\alpha\\beta^k w`, ``k < max_backtracks``, whose average KL
        (``answers.kl_probs / mass``) is within the bound and which improves the surrogate;
        ``theta`` (with a ConvergenceWarning) if there is none."""
        if self.delta is None:
            raise ValueError("line_search needs a trust region; got delta=None")
        bound, gain = self.kl_slack * self.delta, surrogate_gain(answers, policy)
        for k in range(self.max_backtracks):
            new = theta + alpha * self.backtrack ** k * w
            if not np.all(np.isfinite(new)):
                continue
            pi_new = policy.probs(new)
            if answers.kl_probs(pi_new) <= bound * mass and gain(pi_new) > 0:
                return new
        warnings.warn(f"{self!r}: line search found no step within KL {bound:.3g} that improves the surrogate "
                      f"in {self.max_backtracks} tries; theta is kept", ConvergenceWarning, stacklevel=3)
        return theta.copy()
