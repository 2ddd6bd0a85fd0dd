"""Lecture 002 ("Lecture 15: Policy Optimization with Trust Regions").

Claims (id: source):

- 002.pg-q: §1 claim, g = 1/(1-gamma) grad log pi Q with s,a ~ d is unbiased
- 002.one-step: §1 proof, product rule and one-step recursion
- 002.visitation: §1 proof, "definition of d" (normalised discounted visitation)
- 002.baseline: §1, action-independent baselines are unbiased
- 002.advantage: §1, advantage-based PG
- 002.linear-step: §2, first-order model maximised along the gradient
- 002.cpi-mixture: §2, CPI incremental update stays a distribution
- 002.cpi-improvement: §2, CPI update (performance difference of the mixture)
- 002.kl-nonneg: §2 "Fact: KL >= 0 and = 0 iff P = Q"
- 002.kl-gauss: §2 "Ex: Gaussian KL"
- 002.npg-fisher: §3 Alg: Natural PG, the Fisher estimate and its inverse
- 002.ell-hessian: §3, ell(theta) as printed and "Claim: Hess ell(theta0) = F"
- 002.ell-zero-grad: §3, "ell(theta0) = 0, grad ell(theta0) = 0"
- 002.ell-expansion: §3, the second-order approximation
- 002.hessian-fisher: §3 proof, Hessian formula and "0 by same logic"
- 002.trust-region: §3, closed-form maximiser
- 002.trust-region-kl: §3, the trust region derived from d_KL <= delta
"""
from __future__ import annotations

from . import _checks_002_kl as kl
from . import _checks_002_pg as pg
from ._core import registrar

LECTURE = "Lecture 15: Policy Optimization with Trust Regions"

_c = registrar("002", LECTURE)


CLAIMS = [
    _c("pg-q", "§1 Claim (s,a ~ d_mu0)", "g = 1/(1-gamma) grad log pi(a|s) Q(s,a), s,a ~ d, is unbiased for grad J",
       "holds", pg.pg_with_q),
    _c("one-step", "§1 proof (product rule, 'we can iterate')",
       "grad V(s0) = E_a0[grad log pi Q(s0,a0)] + gamma E_{a0,s1}[grad V(s1)]", "holds", pg.one_step),
    _c("visitation", "§1 proof ('definition of d')", "sum_t gamma^t P_t = 1/(1-gamma) d with d a distribution",
       "holds", pg.visitation),
    _c("baseline", "§1 baseline proof", "E_{a~pi(s)}[grad log pi(a|s) b(s)] = 0 for action-independent b", "holds",
       pg.baseline),
    _c("advantage", "§1 'advantage function-based PG'", "grad J = 1/(1-gamma) E_d[grad log pi (Q - b(s))], b = V gives A",
       "holds", pg.advantage_form),
    _c("linear-step", "§2 'The maximum occurs when theta - theta0 is parallel to grad J(theta0)'",
       "the maximiser of the first-order model is theta - theta0 = alpha grad J(theta0), alpha > 0", "holds",
       kl.linear_step),
    _c("cpi-mixture", "§2 CPI incremental update", "pi^{t+1} = (1-alpha) pi^t + alpha pi' is a policy", "holds",
       pg.cpi_mixture),
    _c("cpi-improvement", "§2 CPI incremental update (why it is conservative)",
       "J(mix) - J(pi) = alpha/(1-gamma) E_{d^mix}[E_{pi'} A^pi], improving for small alpha when pi' is greedy",
       "holds", pg.cpi_performance_difference),
    _c("kl-nonneg", "§2 'Fact'", "KL(P|Q) >= 0 and KL(P|Q) = 0 <=> P = Q", "holds", kl.kl_nonnegative),
    _c("kl-gauss", "§2 'Ex'", "KL(N(mu1, s^2 I) | N(mu2, s^2 I)) = ||mu1 - mu2||^2 / s^2", "erratum", kl.kl_gaussian),
    _c("npg-fisher", "§3 Alg: Natural PG ('Estimate Fisher information matrix by F_t = ...')",
       "F_t = grad log pi(a|s) grad log pi(a|s)^T for s,a ~ d, then theta_{t+1} = theta_t + alpha F_t^-1 g_t",
       "erratum", kl.npg_fisher_estimate),
    _c("ell-hessian", "§3 definition of ell and 'Claim: Hess ell(theta0) = F'",
       "ell(theta) = E[log(pi_theta/pi_theta0)] has Hess ell(theta0) = F", "erratum", kl.ell_sign_and_hessian),
    _c("ell-zero-grad", "§3 Claim and proof", "ell(theta0) = 0 and grad ell(theta0) = 0", "holds",
       kl.ell_value_and_gradient),
    _c("ell-expansion", "§3 'A second order approximation'",
       "ell(theta) ~ ell(theta0) + grad ell^T D + D^T Hess ell(theta0) D", "erratum", kl.ell_expansion),
    _c("hessian-fisher", "§3 proof of the Hessian ('0 by same logic as above')",
       "Hess = E[-Hess pi/pi + grad pi grad pi^T/pi^2]; first term 0 at theta0; so Hess = F", "holds",
       kl.hessian_is_fisher),
    _c("trust-region", "§3 'Claim: closed form' with the constraint D^T F D <= delta",
       "theta = theta0 + alpha F^-1 grad J, alpha = (delta / grad J^T F^-1 grad J)^(1/2)", "holds",
       kl.trust_region_closed_form),
    _c("trust-region-kl", "§3 trust region from d_KL(theta0, theta) <= delta",
       "the constraint d_KL <= delta becomes (theta-theta0)^T F (theta-theta0) <= delta", "erratum",
       kl.trust_region_kl_scale),
]
