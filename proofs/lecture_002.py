"""The claims of "Lecture 15: Policy Optimization with Trust Regions" (ids ``002.*``).

Claims (id: source):

- 002.pg-q: §1 claim, g = 1/(1-gamma) grad log pi Q with s,a ~ d is unbiased
- 002.one-step: §1 proof, product rule and one-step recursion
- 002.visitation: §1 proof, "definition of d" (normalised discounted visitation)
- 002.baseline: §1, action-independent baselines are unbiased
- 002.advantage: §1, advantage-based PG (and E_pi[A] = 0)
- 002.linear-step: §2, first-order model maximised along the gradient
- 002.too-far: §2, "following the gradient too far might even lead to decreasing J"
- 002.cpi-mixture: §2, CPI incremental update stays a distribution
- 002.cpi-improvement: §2, CPI update (performance difference of the mixture)
- 002.kl-nonneg: §2 "Fact: KL >= 0 and = 0 iff P = Q"
- 002.kl-gauss: §2 "Ex: Gaussian KL"
- 002.kl-marginal: §2, d_KL "marginalized over a"
- 002.npg-fisher: §3 Alg: Natural PG, the Fisher estimate and its inverse
- 002.ell-hessian: §3, ell(theta) as printed and "Claim: Hess ell(theta0) = F"
- 002.ell-zero-grad: §3, "ell(theta0) = 0, grad ell(theta0) = 0"
- 002.grad-ell: §3 proof, grad ell(theta) = E[-grad pi/pi] at every theta
- 002.ell-expansion: §3, the second-order approximation
- 002.hessian-fisher: §3 proof, Hessian formula and "0 by same logic"
- 002.trust-region: §3, closed-form maximiser
- 002.trust-region-kl: §3, the trust region derived from d_KL <= delta
- 002.preconditioning: §3, "preconditioning by F = diag(sigma1, sigma2)"
"""

from __future__ import annotations

from . import _checks_002_kl as kl
from . import _checks_002_pg as pg
from . import _checks_more as more
from . import _general as gen
from ._core import registrar, sized
from ._coverage import Item

LECTURE = "Lecture 15: Policy Optimization with Trust Regions"

_c = registrar("002", LECTURE)
G, P, INST = "general", "parametric", "instance"
#: Numbers of parameters of the first-order model and the trust region.
DIMS = (2, 3, 4)

CLAIMS = [
    _c(
        "pg-q",
        "§1 Claim (s,a ~ d_mu0)",
        "g = 1/(1-gamma) grad log pi(a|s) Q(s,a), s,a ~ d, is unbiased for grad J",
        "holds",
        gen.with_instance(gen.check_pg_theorem, pg.pg_with_q),
        G,
    ),
    _c(
        "one-step",
        "§1 proof (product rule, 'we can iterate')",
        "grad V(s0) = E_a0[grad log pi Q(s0,a0)] + gamma E_{a0,s1}[grad V(s1)]",
        "holds",
        gen.check_one_step,
        G,
    ),
    _c(
        "visitation",
        "§1 proof ('definition of d')",
        "sum_t gamma^t P_t = 1/(1-gamma) d with d a distribution",
        "holds",
        gen.with_instance(gen.check_visitation, pg.visitation),
        G,
    ),
    _c(
        "baseline",
        "§1 baseline proof",
        "E_{a~pi(s)}[grad log pi(a|s) b(s)] = 0 for action-independent b",
        "holds",
        gen.check_baseline,
        G,
    ),
    _c(
        "advantage",
        "§1 'advantage function-based PG'",
        "grad J = 1/(1-gamma) E_d[grad log pi (Q - b(s))], b = V gives A, and E_{a~pi}[A(s,a)] = 0",
        "holds",
        gen.with_instance(gen.check_advantage, pg.advantage_form),
        G,
    ),
    _c(
        "linear-step",
        "§2 'The maximum occurs when theta - theta0 is parallel to grad J(theta0)'",
        "the maximiser of the first-order model is theta - theta0 = alpha grad J(theta0), alpha > 0",
        "holds",
        sized(kl.linear_step, DIMS),
        P,
    ),
    _c(
        "too-far",
        "§2 'Following the gradient too far might even lead to decreasing J(theta)'",
        "a long step along grad J can decrease J",
        "holds",
        sized(more.too_far_decreases, (1, 2, 3)),
        P,
    ),
    _c(
        "cpi-mixture",
        "§2 CPI incremental update",
        "pi^{t+1} = (1-alpha) pi^t + alpha pi' is a policy",
        "holds",
        sized(pg.cpi_mixture, (2, 3, 4)),
        P,
    ),
    _c(
        "cpi-improvement",
        "§2 CPI incremental update (why it is conservative)",
        "J(mix) - J(pi) = alpha/(1-gamma) E_{d^mix}[E_{pi'} A^pi] (performance difference lemma)",
        "extension",
        gen.with_instance(gen.check_cpi_difference, pg.cpi_performance_difference),
        G,
        reason="the lecture states only the CPI update; the performance difference of the mixture "
        "(Kakade & Langford 2002, Lemma 6.1) is our addition explaining why a small alpha is safe",
    ),
    _c(
        "kl-nonneg",
        "§2 'Fact'",
        "KL(P|Q) >= 0 and KL(P|Q) = 0 <=> P = Q",
        "holds",
        sized(kl.kl_nonnegative, kl.ACTIONS),
        P,
    ),
    _c(
        "kl-gauss",
        "§2 'Ex'",
        "KL(N(mu1, s^2 I) | N(mu2, s^2 I)) = ||mu1 - mu2||^2 / s^2",
        "erratum",
        sized(kl.kl_gaussian, (1, 2, 3)),
        P,
    ),
    _c(
        "kl-marginal",
        "§2 d_KL ('marginalized over a')",
        "E_{s~d}[KL(pi0(.|s) | pi(.|s))] = E_{s,a~d}[log(pi0(a|s)/pi(a|s))]",
        "holds",
        sized(more.kl_marginal, (2, 3, 4)),
        P,
    ),
    _c(
        "npg-fisher",
        "§3 Alg: Natural PG ('Estimate Fisher information matrix by F_t = ...')",
        "F_t = grad log pi(a|s) grad log pi(a|s)^T for s,a ~ d, then theta_{t+1} = theta_t + alpha F_t^-1 g_t",
        "typo/notation",
        sized(kl.npg_fisher_estimate, (3, 4, 5)),
        P,
        reason="the expectation over s,a ~ d is meant (the slide writes the one-sample outer product, "
        "which is singular)",
    ),
    _c(
        "ell-hessian",
        "§3 definition of ell and 'Claim: Hess ell(theta0) = F'",
        "ell(theta) = E[log(pi_theta/pi_theta0)] has Hess ell(theta0) = F",
        "erratum",
        sized(kl.ell_sign_and_hessian, kl.ACTIONS),
        P,
    ),
    _c(
        "ell-zero-grad",
        "§3 Claim and proof",
        "ell(theta0) = 0 and grad ell(theta0) = 0",
        "holds",
        sized(kl.ell_value_and_gradient, kl.ACTIONS),
        P,
    ),
    _c(
        "grad-ell",
        "§3 proof ('grad ell(theta) = E[-grad pi/pi]')",
        "grad_theta ell(theta) = E_{s,a~pi_theta0}[-grad pi_theta(a|s)/pi_theta(a|s)] at every theta",
        "holds",
        sized(more.grad_ell_everywhere, (2, 3, 4)),
        P,
    ),
    _c(
        "ell-expansion",
        "§3 'A second order approximation'",
        "ell(theta) ~ ell(theta0) + grad ell^T D + D^T Hess ell(theta0) D",
        "erratum",
        sized(kl.ell_expansion, kl.ACTIONS),
        P,
    ),
    _c(
        "hessian-fisher",
        "§3 proof of the Hessian ('0 by same logic as above')",
        "Hess = E[-Hess pi/pi + grad pi grad pi^T/pi^2]; first term 0 at theta0; so Hess = F",
        "holds",
        gen.with_instance(gen.check_fisher_hessian, kl.hessian_is_fisher),
        G,
    ),
    _c(
        "trust-region",
        "§3 'Claim: closed form' with the constraint D^T F D <= delta",
        "theta = theta0 + alpha F^-1 grad J, alpha = (delta / grad J^T F^-1 grad J)^(1/2)",
        "holds",
        sized(kl.trust_region_closed_form, (1, 2, 3)),
        P,
    ),
    _c(
        "trust-region-kl",
        "§3 trust region from d_KL(theta0, theta) <= delta",
        "the constraint d_KL <= delta becomes (theta-theta0)^T F (theta-theta0) <= delta",
        "erratum",
        sized(kl.trust_region_kl_scale, kl.ACTIONS),
        INST,
        same_cause_as="ell-expansion",
    ),
    _c(
        "preconditioning",
        "§3 'preconditioning by F = diag(sigma1, sigma2) ... adjusts the stepsize'",
        "with F = diag(sigma1, sigma2) the step F^-1 grad J rescales each coordinate (exact on a quadratic)",
        "holds",
        sized(more.preconditioning, DIMS),
        P,
    ),
]

COVERAGE = [
    Item("§1 Claim", "g = 1/(1-gamma) score Q is unbiased", "002.pg-q"),
    Item("§1 proof", "value fn. def.: grad J = E_s0[grad V]", "002.one-step"),
    Item("§1 proof", "product rule and importance weighting trick", "002.one-step"),
    Item("§1 proof", "'we can iterate' to sum_t gamma^t E_{P_t}", "002.visitation"),
    Item("§1 proof", "definition of d: 1/(1-gamma) E_d", "002.visitation"),
    Item("§1", "g with a baseline b(s)", "002.advantage"),
    Item("§1", "A = Q - V (advantage-based PG)", "002.advantage"),
    Item("§1", "'Actor critic' naming", why="definition: a name"),
    Item("§1 baseline proof", "E[score b(s)] = 0 (three steps)", "002.baseline"),
    Item("§2", "first-order model maximised along the gradient", "002.linear-step"),
    Item("§2", "small step: the linear approximation is locally valid", "002.too-far"),
    Item("§2", "following the gradient too far may decrease J", "002.too-far"),
    Item("§2", "trust region problem max J s.t. d < delta", why="definition: the problem"),
    Item("§2", "CPI incremental update is a policy", "002.cpi-mixture"),
    Item("§2", "CPI is conservative (performance difference)", "002.cpi-improvement"),
    Item("§2", "definition of KL", why="definition: KL"),
    Item("§2 Ex", "Gaussian KL", "002.kl-gauss"),
    Item("§2 Fact", "KL >= 0, = 0 iff P = Q", "002.kl-nonneg"),
    Item("§2", "d_KL marginalized over a", "002.kl-marginal"),
    Item("§3 Alg", "Fisher estimate and natural step", "002.npg-fisher"),
    Item("§3", "definition of ell (sign)", "002.ell-hessian"),
    Item("§3", "second-order approximation (missing 1/2)", "002.ell-expansion"),
    Item("§3 Claim", "ell(theta0) = 0, grad ell(theta0) = 0", "002.ell-zero-grad"),
    Item("§3 Claim", "Hess ell(theta0) = F", "002.ell-hessian"),
    Item("§3 proof", "grad ell(theta) = E[-grad pi/pi]", "002.grad-ell"),
    Item("§3 proof", "Hessian formula and '0 by same logic'", "002.hessian-fisher"),
    Item("§3", "trust region with D^T F D <= delta", "002.trust-region-kl"),
    Item("§3 Claim", "closed-form maximiser (and the hint's change of variables)", "002.trust-region"),
    Item("§3", "preconditioning by diag(sigma1, sigma2)", "002.preconditioning"),
]
