"""Exact first- and second-order policy quantities: ∇J, Fisher, NPG, trust region, KL, PDL.

All are re-exported by :mod:`tabular_pg.exact`.
"""
from __future__ import annotations

import warnings

import numpy as np

from tabular_pg._checks import real
from tabular_pg.exact.blas import one_blas_thread
from tabular_pg.exact.evaluation import Evaluation, check_policy, evaluate
from tabular_pg.exact.fisher import FISHER_RCOND, block_pinv_solve, check_damping, fisher_matrix, kl_rows
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.exact.soft import check_entropy
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy

__all__ = ["policy_gradient", "fisher_information", "natural_gradient", "trust_region_step",
           "kl_divergence", "performance_difference", "state_weights", "check_policy_fits", "block_pinv_solve",
           "FISHER_RCOND"]


def _fit_to_policy(X: np.ndarray, ev: Evaluation, policy: Policy) -> np.ndarray:
    """Sum a per-step array ``(H, S, ...)`` of ``ev`` over steps when the policy is stationary."""
    if policy.horizon is None and ev.d.ndim == 2:
        return X.sum(axis=0)
    return X


def check_policy_fits(mdp: FiniteMDP, policy: Policy) -> None:
    """TypeError unless ``mdp`` is a FiniteMDP and ``policy`` a Policy; ValueError unless the
    policy has the states, actions and horizon of ``mdp``."""
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a tabular_pg Policy; got {type(policy).__name__}")
    if (policy.n_states, policy.n_actions) != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"policy has (S, A) = {(policy.n_states, policy.n_actions)} but the MDP has "
                         f"{(mdp.n_states, mdp.n_actions)}")
    if policy.horizon is not None and policy.horizon != mdp.horizon:
        raise ValueError(f"per-step policy horizon {policy.horizon} differs from the MDP horizon {mdp.horizon}")


def _check(mdp: FiniteMDP, policy: Policy, theta, entropy: float = 0.0) -> tuple[np.ndarray, Evaluation]:
    check_policy_fits(mdp, policy)
    theta = policy.check_theta(theta)
    return theta, evaluate(mdp, policy.probs(theta), entropy=entropy)


def _check_evaluation(evaluation, entropy) -> None:
    if not isinstance(evaluation, Evaluation):
        raise TypeError("evaluation must be None or an Evaluation (tabular_pg.evaluate); "
                        f"got {type(evaluation).__name__}")
    if evaluation.entropy != check_entropy(entropy):
        raise ValueError(f"evaluation was computed with entropy={evaluation.entropy!r} but entropy={entropy!r} "
                         "was asked for")


@one_blas_thread()
def policy_gradient(mdp: FiniteMDP, policy: Policy, theta, evaluation: Evaluation | None = None,
                    entropy: float = 0.0) -> np.ndarray:
    """Exact :math:`\\nabla_\\theta J(\\pi_\\theta)` (or :math:`\\nabla_\\theta J_\\tau` with ``entropy = tau > 0``),
    shape ``(d,)``.

    Notes
    -----
    Policy-gradient theorem ("Lecture 15: Policy Optimization with Trust Regions" §1; 003 "Policy Gradient w/ Q_h"):

    .. math:: \\nabla J = \\sum_s \\tilde d(s) \\sum_a \\nabla\\pi(a|s) A(s,a)
              = \\tfrac{1}{1-\\gamma}\\mathbb E_{s\\sim d, a\\sim\\pi}[\\nabla\\log\\pi(a|s) A(s,a)],

    with :math:`\\sum_h \\gamma^h \\sum_s d_h(s)\\sum_a \\nabla\\pi_h(a|s) A_h(s,a)` on a
    finite horizon.  ``A`` replaces ``Q`` since :math:`\\sum_a\\nabla\\pi(a|s)=0` (the
    baseline identity of "Lecture 15: Policy Optimization with Trust Regions"); it is computed as one vector-Jacobian
    product.
    With ``entropy = tau`` the same formula with the soft advantage
    :math:`A_\\tau = Q_\\tau - \\tau\\log\\pi - V_\\tau` of :func:`tabular_pg.evaluate` gives
    :math:`\\nabla J_\\tau` (Mei et al. 2020, "On the Global Convergence Rates of Softmax Policy
    Gradient Methods", Lemma 10; see :mod:`tabular_pg.exact.soft`).  ``evaluation``, if given,
    must have been computed with the same ``entropy``.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(6, 3, 2, seed=0)
    >>> pol = tpg.TabularSoftmax(6, 3); th = np.linspace(-1, 1, 18)
    >>> e = np.eye(18)[4] * 1e-6
    >>> fd = (tpg.evaluate(mdp, pol.probs(th + e)).J - tpg.evaluate(mdp, pol.probs(th - e)).J) / 2e-6
    >>> bool(np.isclose(policy_gradient(mdp, pol, th)[4], fd, rtol=1e-6))
    True
    """
    if evaluation is not None:
        _check_evaluation(evaluation, entropy)
    theta, ev = _check(mdp, policy, theta, entropy) if evaluation is None else (policy.check_theta(theta), evaluation)
    visits = ev.visits[..., None]
    W = _fit_to_policy(np.where(visits > 0, visits * ev.A, 0.0), ev, policy)     # A is NaN where V is undefined
    return policy.vjp(theta, W)


def state_weights(ev: Evaluation, policy: Policy) -> np.ndarray:
    """The state distribution of the Fisher matrix: ``d (S,)`` (or ``Σ_h d_h``, or ``d (H, S)``)."""
    return _fit_to_policy(ev.d, ev, policy)


@one_blas_thread()
def fisher_information(mdp: FiniteMDP, policy: Policy, theta) -> np.ndarray:
    """Exact Fisher matrix :math:`F = \\mathbb E_{s\\sim d, a\\sim\\pi}[\\psi\\psi^\\top]`, shape ``(d, d)``.

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §3 with the normalised discounted visitation ``d``; on a
    finite horizon
    :math:`F = \\sum_h \\mathbb E_{s\\sim d_h, a\\sim\\pi_h}[\\psi\\psi^\\top]`, the Hessian at
    :math:`\\theta_0` of the trajectory KL :math:`KL(p_{\\theta_0}(\\tau)\\|p_\\theta(\\tau))`.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(4, 3, 2, seed=1); pol = tpg.TabularSoftmax(4, 3)
    >>> F = fisher_information(mdp, pol, np.linspace(-1, 1, 12))
    >>> bool(np.allclose(F, F.T)), bool(np.linalg.eigvalsh(F).min() > -1e-12)
    (True, True)
    >>> bool(np.allclose(F @ np.repeat(np.eye(4), 3, axis=1)[0], 0))  # softmax null space
    True
    """
    theta, ev = _check(mdp, policy, theta)
    w = state_weights(ev, policy)[..., None] * policy.probs(theta)
    return policy.fisher(theta, w)


@one_blas_thread()
def natural_gradient(mdp: FiniteMDP, policy: Policy, theta, damping: float = 0.0) -> np.ndarray:
    """Natural gradient :math:`F^+\\nabla J` (or :math:`(F+\\lambda I)^{-1}\\nabla J`), shape ``(d,)``.

    Parameters
    ----------
    damping : float >= 0
        Tikhonov damping :math:`\\lambda`; 0 gives the Moore–Penrose solution.

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §3: :math:`\\theta_{t+1} = \\theta_t + \\alpha F^{-1} g`.  The
    softmax
    Fisher is singular (constant shifts per state), hence the pseudo-inverse (eigenvalues
    below ``FISHER_RCOND`` times the largest are dropped, so states with
    :math:`d(s)\\pi(a|s)` below that scale get no natural-gradient component).  A tabular softmax takes a
    block-diagonal path; its result is :math:`A(s,\\cdot)/(1-\\gamma)` minus its mean
    over actions (Kakade 2001; Agarwal et al. 2021, Lemma 5.1).

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(5, 3, 2, seed=2); pol = tpg.TabularSoftmax(5, 3); th = np.zeros(15)
    >>> A = tpg.evaluate(mdp, pol.probs(th)).A / (1 - mdp.gamma)
    >>> w = natural_gradient(mdp, pol, th).reshape(5, 3)
    >>> bool(np.allclose(w, A - A.mean(axis=1, keepdims=True)))
    True
    """
    damping = check_damping(damping)
    theta, ev = _check(mdp, policy, theta)
    g = policy_gradient(mdp, policy, theta, evaluation=ev)
    return fisher_matrix(policy, theta, state_weights(ev, policy)).solve(g, damping)


#: The quadratic model of the KL is trusted when the realised KL of the full step is at most
#: this multiple of delta; beyond it the step is shortened (see :func:`trust_region_step`).
KL_MODEL_SLACK = 1.1


@one_blas_thread()
def trust_region_step(mdp: FiniteMDP, policy: Policy, theta, delta: float) -> np.ndarray:
    """The parameters maximising the linearised J subject to the quadratic KL constraint,
    shortened where the quadratic model of the KL fails.

    Solves :math:`\\max_\\theta \\nabla J^\\top(\\theta-\\theta_0)` s.t.
    :math:`\\tfrac12(\\theta-\\theta_0)^\\top F(\\theta-\\theta_0) \\le \\delta`, giving
    :math:`\\theta_0 + \\alpha F^+ g` with :math:`\\alpha = \\sqrt{2\\delta / g^\\top F^+ g}`.

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §3 writes the constraint as :math:`\\Delta^\\top F\\Delta \\le
    \\delta` (its
    second-order expansion of the KL omits the 1/2) and so gets
    :math:`\\alpha=\\sqrt{\\delta/g^\\top F^{-1}g}`; with the correct expansion
    :math:`KL \\approx \\tfrac12\\Delta^\\top F \\Delta` the realised KL of this step is
    :math:`\\approx\\delta` for small :math:`\\delta` (see ``proofs``).

    The expansion fails for near-deterministic policies (softmax logits of +-5 gave a
    realised KL of 31 for delta = 0.1, +-10 an infinite one).  So the exact KL
    (:func:`kl_divergence`) of the full step is computed, and if it exceeds
    :data:`KL_MODEL_SLACK` x delta, the step :math:`t\\,\\alpha F^+ g` is shortened by
    bisection on ``t`` in (0, 1) until the exact KL lies in [0.9 delta, delta] (as in the
    backtracking line search of Schulman et al. 2015 "Trust Region Policy Optimization",
    Appendix C); the result then meets the constraint on the exact KL.
    """
    if not (np.isfinite(real("delta", delta)) and delta > 0):
        raise ValueError(f"delta must be a finite number > 0; got {delta!r}")
    check_policy_fits(mdp, policy)
    theta = policy.check_theta(theta)
    w = natural_gradient(mdp, policy, theta)
    g = policy_gradient(mdp, policy, theta)
    gw = float(g @ w)
    if not gw > 0:
        warnings.warn(f"trust_region_step: g^T F^+ g = {gw!r} is not positive (zero gradient or no "
                      f"ascent direction); theta is returned unchanged", ConvergenceWarning, stacklevel=3)
        return theta.copy()
    step = np.sqrt(2 * delta / gw) * w
    return theta + _exact_kl_scale(mdp, policy, theta, step, delta) * step


def _exact_kl_scale(mdp: FiniteMDP, policy: Policy, theta: np.ndarray, step: np.ndarray, delta: float) -> float:
    """1 if the exact KL of ``theta + step`` is within :data:`KL_MODEL_SLACK` delta, else the
    bisected ``t`` with exact KL of ``theta + t step`` in [0.9 delta, delta] (60 halvings at most)."""
    pi_old = policy.probs(theta)

    def kl(t: float) -> float:
        return kl_divergence(mdp, pi_old, policy.probs(theta + t * step))

    if kl(1.0) <= KL_MODEL_SLACK * delta:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(60):
        t = 0.5 * (lo + hi)
        value = kl(t)
        if 0.9 * delta <= value <= delta:
            return t
        lo, hi = (t, hi) if value < 0.9 * delta else (lo, t)
    if lo == 0.0:
        warnings.warn("trust_region_step: every step along F^+ g of more than 2^-60 of the quadratic model's "
                      "length exceeds the exact KL bound delta; theta is returned unchanged", ConvergenceWarning,
                      stacklevel=3)
    return lo


@one_blas_thread()
def kl_divergence(mdp: FiniteMDP, pi_old, pi_new) -> float:
    """:math:`d_{KL}(\\pi_{old}, \\pi_{new}) = \\mathbb E_{s\\sim
    d^{\\pi_{old}}}[KL(\\pi_{old}(\\cdot|s)\\|\\pi_{new}(\\cdot|s))]`.

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §2 (``d`` the normalised discounted visitation of ``pi_old``);
    on a finite
    horizon the trajectory KL :math:`\\sum_h \\mathbb E_{s\\sim d_h}[KL]`.  Returns ``inf``
    when ``pi_new`` gives probability 0 to an action ``pi_old`` takes in a visited state.

    Examples
    --------
    >>> import mdps
    >>> mdp = mdps.garnet(4, 2, 2, seed=0); p = np.full((4, 2), .5)
    >>> kl_divergence(mdp, p, p)
    0.0
    """
    pi_old, pi_new = check_policy(mdp, pi_old, "pi_old"), check_policy(mdp, pi_new, "pi_new")
    d = evaluate(mdp, pi_old).d                                    # (S,) or (H, S)
    shape = d.shape + (mdp.n_actions,)
    kl = kl_rows(np.broadcast_to(pi_old, shape), np.broadcast_to(pi_new, shape))
    visited = d > 0
    if np.isinf(kl[visited]).any():
        return float("inf")
    return float(d[visited] @ kl[visited])


@one_blas_thread()
def performance_difference(mdp: FiniteMDP, pi_new, pi_old) -> float:
    """:math:`J(\\pi') - J(\\pi) = \\sum_s \\tilde d^{\\pi'}(s) \\sum_a \\pi'(a|s) A^{\\pi}(s,a)`.

    Notes
    -----
    Performance-difference lemma (Kakade & Langford 2002, Lemma 6.1):
    :math:`J(\\pi')-J(\\pi) = \\tfrac{1}{1-\\gamma}\\mathbb E_{s\\sim d^{\\pi'}}\\mathbb
    E_{a\\sim\\pi'}[A^\\pi(s,a)]`; per step on a finite horizon.  Computed from the
    right-hand side, so comparing it with the difference of the two J tests the lemma.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(5, 3, 2, seed=3)
    >>> p, q = np.full((5, 3), 1/3), np.eye(3)[[0, 1, 2, 0, 1]] * .7 + .1
    >>> lhs = tpg.evaluate(mdp, q).J - tpg.evaluate(mdp, p).J
    >>> bool(np.isclose(performance_difference(mdp, q, p), lhs, rtol=1e-10))
    True
    """
    pi_new, pi_old = check_policy(mdp, pi_new, "pi_new"), check_policy(mdp, pi_old, "pi_old")
    ev_new, ev_old = evaluate(mdp, pi_new), evaluate(mdp, pi_old)
    return float(np.sum(ev_new.visits[..., None] * pi_new * ev_old.A))
