"""Lecture 003 ("Policy Gradient (continue)": PG variance, PPO, exploration).

Claims (id: source):

- 003.rho: slide 1, rho_theta(tau) and J(pi_theta) = E_rho[R(tau)]
- 003.rho-typo: slide 2, the garbled rho with pi(a_1|s_0)
- 003.pg: "grad J := E[(sum_h grad ln pi(a_h|s_h)) R(tau)]"
- 003.g-unbiased: "g := sum_h grad ln pi(a_h|s_h) R(tau)", "E[g] = grad J"
- 003.variance-h3: "E||g - grad J||^2 could be as large as H^3"
- 003.q-recursion: "Value / Q function", Q_h = r + E V_{h+1}
- 003.pg-q: "Policy Gradient w/ Q_h"
- 003.baseline: "Variance reduction via a Baseline"
- 003.advantage: "Value function as a baseline" (advantage)
- 003.v-not-optimal: "V is not the theoretically optimal baseline"
- 003.iw-typo: PPO surrogate, "IW trick" line
- 003.surrogate: PPO surrogate max_theta E_{s~d^t} E_{a~pi_theta} A^t
- 003.clip: "Trick 1: clipping" / "Stop updating"
- 003.min: "Trick 2, take the min of the clipped and unclipped obj"
- 003.chain-hitting: "Probability of random walk hitting reward 1 is (1/3)^{-H}"
- 003.chain-zero-pg: "Unless we take exponentially many trajs, empirical policy gradient is zero"
"""
from __future__ import annotations

from . import _checks_003_pg as pg
from . import _checks_003_ppo as ppo
from ._core import registrar

LECTURE = "Policy Gradient (continued)"

_c = registrar("003", LECTURE)


CLAIMS = [
    _c("rho", "slide 1 (rho_theta, J)", "rho_theta(tau) = mu(s_0) pi(a_0|s_0) P(s_1|s_0,a_0) pi(a_1|s_1) ...; "
       "J = E_rho[sum_h r(s_h, a_h)]", "holds", pg.rho),
    _c("rho-typo", "slides 2-3 (garbled rho)", "rho_theta(tau) = mu(s_0) pi(a_0|s_0) P(s_1|s_0,a_0) pi(a_1|s_0) ...",
       "erratum", pg.rho_typo),
    _c("pg", "slides 'grad J := E[...]'", "grad J = E_rho[(sum_h grad ln pi(a_h|s_h)) R(tau)]", "holds",
       pg.pg_trajectory),
    _c("g-unbiased", "slide 'How to get an unbiased estimate'", "g = sum_h grad ln pi(a_h|s_h) R(tau): E[g] = grad J",
       "holds", pg.g_unbiased),
    _c("variance-h3", "slide 'This formulation has large variance'",
       "E||g - grad J||^2 could be as large as H^3", "holds", pg.variance_h_cubed),
    _c("q-recursion", "slide 'Value / Q function'", "Q_h(s,a) = r(s,a) + E_{s'~T(s,a)} V_{h+1}(s')", "holds",
       pg.q_recursion),
    _c("pg-q", "slide 'Policy Gradient w/ Q_h'", "grad J = sum_h E_{s,a~d_h}[grad ln pi(a|s) Q_h(s,a)]", "holds",
       pg.pg_q),
    _c("baseline", "slides 'Variance reduction via a Baseline'",
       "an action-independent b(s_h) does not affect the gradient", "holds", pg.baseline),
    _c("advantage", "slides 'Value function as a baseline'",
       "grad J = sum_h E_{d_h}[grad ln pi (Q_h - V_h)] = sum_h E_{d_h}[grad ln pi A_h]", "holds", pg.advantage),
    _c("v-not-optimal", "slide 'Value function as a baseline', point 2",
       "V is not the theoretically optimal baseline", "holds", pg.v_not_optimal_baseline),
    _c("iw-typo", "PPO slide 'IW trick'", "E_{a~pi_theta}[A] = E_{a~pi_t}[pi_theta(.|s)/pi_t(a|s) A]", "erratum",
       ppo.iw_typo),
    _c("surrogate", "PPO slide 'max_theta ell(theta)'",
       "maximising E_{s~d^t} E_{a~pi_theta}[A^t(s,a)] improves J (its gradient at theta_t is the PG up to scale)",
       "holds", ppo.surrogate_gradient),
    _c("clip", "PPO 'Trick 1: clipping'", "clipping the ratio stops updating pi_theta(a|s) once it is too different",
       "holds", ppo.clip_stops),
    _c("min", "PPO 'Trick 2, take the min of the clipped and unclipped obj'",
       "the min objective ensures no abrupt change: it is a pessimistic (lower) bound on the unclipped objective",
       "holds", ppo.min_lower_bound),
    _c("chain-hitting", "exploration slide (chain of length H)",
       "probability of random walk hitting reward 1 is (1/3)^{-H}", "erratum", ppo.chain_hitting),
    _c("chain-zero-pg", "exploration slide", "unless exponentially many trajectories, the empirical PG is zero",
       "holds", ppo.empirical_pg_zero),
]
