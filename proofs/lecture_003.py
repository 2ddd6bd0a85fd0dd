"""The claims of "Policy Gradient (continued)": PG variance, PPO, exploration (ids ``003.*``).

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
- 003.adv-constant: "Advantage can be as small as a constant"
- 003.v-not-optimal: "V is not the theoretically optimal baseline"
- 003.iw-typo: PPO surrogate, "IW trick" line
- 003.l-hat: the sample form of ell-hat
- 003.surrogate: PPO surrogate max_theta E_{s~d^t} E_{a~pi_theta} A^t
- 003.clip: "Trick 1: clipping" / "Stop updating"
- 003.stop-typo: "Stop updating pi_theta(a|s) if it is too different from pi_theta(a|s)"
- 003.min: "Trick 2, take the min of the clipped and unclipped obj"
- 003.chain-hitting: "Probability of random walk hitting reward 1 is (1/3)^{-H}"
- 003.chain-zero-pg: "Unless we take exponentially many trajs, empirical policy gradient is zero"
- 003.reset: "start uniform randomly along the chain instead of just s_0"
- 003.local-optimum: Summary, "PG can stuck at local optimal"
"""

from __future__ import annotations

from . import _checks_003_pg as pg
from . import _checks_003_ppo as ppo
from . import _checks_more as more
from . import _general as gen
from ._core import registrar, sized
from ._coverage import Item

LECTURE = "Policy Gradient (continued)"

_c = registrar("003", LECTURE)
P, INST = "parametric", "instance"
MDP = ("S=2, A=2, H=2",)
GRID = tuple(f"eps={e}, 4 A x 27 ratios" for e in ("1/10", "1/5", "1/2"))

CLAIMS = [
    _c(
        "rho",
        "slide 1 (rho_theta, J)",
        "rho_theta(tau) = mu(s_0) pi(a_0|s_0) P(s_1|s_0,a_0) pi(a_1|s_1) ...; J = E_rho[sum_h r(s_h, a_h)]",
        "holds",
        sized(pg.rho, pg.SIZES),
        INST,
    ),
    _c(
        "rho-typo",
        "slides 2-3 (garbled rho)",
        "rho_theta(tau) = mu(s_0) pi(a_0|s_0) P(s_1|s_0,a_0) pi(a_1|s_0) ...",
        "not an error",
        sized(pg.rho_typo, pg.SIZES),
        INST,
        reason="a garbled build of the slide (the text repeats 'pi(a_1|s_0) pi(a_1|s_0) pi' and breaks off); the "
        "first build prints rho correctly and that is what the check evaluates",
    ),
    _c(
        "pg",
        "slides 'grad J := E[...]'",
        "grad J = E_rho[(sum_h grad ln pi(a_h|s_h)) R(tau)]",
        "holds",
        sized(pg.pg_trajectory, pg.SIZES),
        INST,
    ),
    _c(
        "g-unbiased",
        "slide 'How to get an unbiased estimate'",
        "g = sum_h grad ln pi(a_h|s_h) R(tau): E[g] = grad J",
        "holds",
        sized(pg.g_unbiased, ((1, 3, 3), (1, 2, 2), (2, 2, 2))),
        INST,
    ),
    _c(
        "variance-h3",
        "slide 'This formulation has large variance'",
        "E||g - grad J||^2 could be as large as H^3",
        "holds",
        pg.variance_h_cubed,
        P,
        tuple(f"S=1, A=2, H={h}" for h in range(1, 7)),
    ),
    _c(
        "q-recursion",
        "slide 'Value / Q function'",
        "Q_h(s,a) = r(s,a) + E_{s'~T(s,a)} V_{h+1}(s')",
        "holds",
        sized(pg.q_recursion, pg.SIZES),
        INST,
    ),
    _c(
        "pg-q",
        "slide 'Policy Gradient w/ Q_h'",
        "grad J = sum_h E_{s,a~d_h}[grad ln pi(a|s) Q_h(s,a)]",
        "holds",
        sized(pg.pg_q, pg.SIZES),
        INST,
    ),
    _c(
        "baseline",
        "slides 'Variance reduction via a Baseline'",
        "an action-independent b(s_h) does not affect the gradient",
        "holds",
        sized(pg.baseline, pg.SIZES),
        INST,
    ),
    _c(
        "advantage",
        "slides 'Value function as a baseline'",
        "grad J = sum_h E_{d_h}[grad ln pi (Q_h - V_h)] = sum_h E_{d_h}[grad ln pi A_h]",
        "holds",
        sized(pg.advantage, pg.SIZES),
        INST,
    ),
    _c(
        "adv-constant",
        "slide 'Value function as a baseline', point 1",
        "the advantage can be as small as a constant while Q_h grows with the horizon",
        "holds",
        more.advantage_constant,
        P,
        tuple(f"S=1, A=2, H={h}" for h in range(1, 5)),
    ),
    _c(
        "v-not-optimal",
        "slide 'Value function as a baseline', point 2",
        "V is not the theoretically optimal baseline",
        "holds",
        sized(pg.v_not_optimal_baseline, (2, 3, 4)),
        P,
    ),
    _c(
        "iw-typo",
        "PPO slide 'IW trick'",
        "E_{a~pi_theta}[A] = E_{a~pi_t}[pi_theta(.|s)/pi_t(a|s) A]",
        "typo/notation",
        sized(ppo.iw_typo, (2, 3, 4)),
        INST,
        reason="pi_theta(.|s) is written for pi_theta(a|s); the next builds of the slide print the right ratio",
    ),
    _c(
        "l-hat",
        "PPO slide 'ell-hat(theta) = sum_{s,a} pi_theta/pi_theta_t A'",
        "the sample sum over N draws a ~ pi_t has mean N E_{a~pi_theta}[A]",
        "holds",
        sized(more.sample_surrogate, (2, 3, 4)),
        P,
    ),
    _c(
        "surrogate",
        "PPO slide 'max_theta ell(theta)'",
        "maximising E_{s~d^t} E_{a~pi_theta}[A^t(s,a)] improves J (its gradient at theta_t is the PG up to scale)",
        "holds",
        gen.check_surrogate,
        "general",
    ),
    _c(
        "clip",
        "PPO 'Trick 1: clipping'",
        "clipping the ratio stops updating pi_theta(a|s) once it is too different",
        "holds",
        ppo.clip_stops,
        INST,
        GRID,
    ),
    _c(
        "stop-typo",
        "PPO 'Trick 1' ('Stop updating pi_theta(a|s) if it is too different from pi_theta(a|s)')",
        "stop updating pi_theta(a|s) if it is too different from pi_theta(a|s)",
        "typo/notation",
        sized(more.stop_updating_typo, (2, 3, 4)),
        P,
        reason="the second pi_theta should be pi_theta_t (the old policy), as in the clip just above",
    ),
    _c(
        "min",
        "PPO 'Trick 2, take the min of the clipped and unclipped obj'",
        "the min objective ensures no abrupt change: it is a pessimistic (lower) bound on the unclipped objective",
        "holds",
        ppo.min_lower_bound,
        INST,
        GRID,
    ),
    _c(
        "chain-hitting",
        "exploration slide (chain of length H)",
        "probability of random walk hitting reward 1 is (1/3)^{-H}",
        "erratum",
        ppo.chain_hitting,
        INST,
        tuple(f"{a}-action chain, H={h}" for a in (3, 2) for h in range(1, 7)),
    ),
    _c(
        "chain-zero-pg",
        "exploration slide",
        "unless exponentially many trajectories, the empirical PG is zero",
        "holds",
        ppo.empirical_pg_zero,
        INST,
        ("chain, H=2", "chain, H=3", "chain, H=4"),
    ),
    _c(
        "reset",
        "remedy 2 ('start uniform randomly along the chain instead of just s_0')",
        "a uniform reset makes P(hit) at least 1/(H+1) instead of 3^-H",
        "holds",
        more.reset_uniform,
        INST,
        tuple(f"chain, H={h}" for h in range(2, 7)),
    ),
    _c(
        "local-optimum",
        "Summary ('PG can stuck at local optimal')",
        "policy gradient can stop at a local optimum that is not globally optimal",
        "holds",
        sized(more.local_optimum, (1, 2, 3)),
        INST,
    ),
]

COVERAGE = [
    Item("slide 1", "tau and rho_theta", "003.rho"),
    Item("slides 2-3", "garbled rho builds", "003.rho-typo"),
    Item("slide 1", "J = E_rho[R(tau)]", "003.rho"),
    Item("slides 'grad J := E[...]'", "trajectory PG", "003.pg"),
    Item("slide 'unbiased estimate'", "E[g] = grad J", "003.g-unbiased"),
    Item("slide 'large variance'", "E||g - grad J||^2 up to H^3", "003.variance-h3"),
    Item("slide 'Value / Q function'", "V_h, Q_h definitions", why="definition: V_h and Q_h"),
    Item("slide 'Value / Q function'", "Q_h = r + E V_{h+1}", "003.q-recursion"),
    Item("slide 'Policy Gradient w/ Q_h'", "PG with Q_h", "003.pg-q"),
    Item(
        "slide 'Policy Gradient w/ Q_h'",
        "'adjust theta to raise prob of a with high reward-to-go'",
        why="not checkable: an informal reading of the formula",
    ),
    Item("slides 'Baseline'", "action-independent baseline", "003.baseline"),
    Item("slides 'Value function as a baseline'", "advantage PG", "003.advantage"),
    Item("'Value function as a baseline' point 1", "advantage as small as a constant", "003.adv-constant"),
    Item("'Value function as a baseline' point 2", "V not the optimal baseline", "003.v-not-optimal"),
    Item("PPO", "dataset D = {s, a, A}", why="definition: the dataset"),
    Item("PPO", "surrogate max E_d E_pi_theta A", "003.surrogate"),
    Item("PPO", "IW trick line", "003.iw-typo"),
    Item("PPO", "sample form of ell-hat", "003.l-hat"),
    Item("PPO Trick 1", "clipped objective stops updating", "003.clip"),
    Item("PPO Trick 1", "'stop updating ... from pi_theta(a|s)'", "003.stop-typo"),
    Item("PPO Trick 2", "min of clipped and unclipped", "003.min"),
    Item("PPO", "theta_{t+1} ~ argmax ell_final by minibatch SGA", why="not checkable: an optimisation recipe"),
    Item("exploration", "hitting probability (1/3)^(-H)", "003.chain-hitting"),
    Item("exploration", "empirical PG zero unless exponentially many trajectories", "003.chain-zero-pg"),
    Item("remedy 1", "start from a pre-trained policy (BC -> PG)", why="not checkable: advice without a quantity"),
    Item("remedy 2", "reset uniformly along the chain", "003.reset"),
    Item("Summary", "PG can get stuck at a local optimum", "003.local-optimum"),
]
