"""The claims of "Lecture 6: The Policy Gradient" (ids ``000.*``).

Claims (id: source):

- 000.eq2: eq. (2), the trajectory distribution
- 000.quiz1, 000.quiz2, 000.quiz3, 000.quiz4, 000.quiz5, 000.quiz6, 000.quiz7, 000.quiz8,
  000.quiz9, 000.quiz10: the ungraded calculus quiz, items 1-10, blanks filled
- 000.eq4: eq. (4), a gradient-ascent step increases f
- 000.sec3.inside: §3 "a common mistake" (gradient inside the expectation)
- 000.eq7-10, 000.eq8.inside: eqs. (7)-(11), log-derivative trick; moving grad inside the integral
- 000.eq12-13, 000.eq13.plug: Monte Carlo estimate; "plugging this into Eq. 13"
- 000.sec3.1.mc-grad-p: §3.1 incorrect Monte Carlo of int R grad p
- 000.eq14-16: eqs. (14)-(16), dynamics terms vanish
- 000.eq17-19, 000.eq20, 000.eq21-22, 000.eq23, 000.eq24-25, 000.eq26, 000.eq27,
  000.footnote1, 000.sec3.2.variance: §3.2 breaking up time (causality / reward to go)
- 000.eq28-29, 000.sec3.4: behavioural cloning and reward-weighted BC
- 000.eq33, 000.eq34, 000.eq35, 000.eq36, 000.eq36.fixed-point: §4 CEM
- 000.eq37, 000.sec5.positive, 000.eq37-38, 000.eq39, 000.eq39.equality, 000.eq40: §5 EM
"""

from __future__ import annotations

from . import _checks_000_cem_em as cem
from . import _checks_000_pg as pg
from . import _checks_000_quiz as quiz
from . import _checks_more as more
from ._core import registrar, sized
from ._coverage import Item

LECTURE = "Lecture 6: The Policy Gradient"

_c = registrar("000", LECTURE)
G, P, INST = "general", "parametric", "instance"
OUTCOMES = (2, 3, 4)


def _outcomes(check):
    return sized(check, OUTCOMES)


def _mdps(check):
    return sized(check, pg.SIZES)


CLAIMS = [
    _c(
        "eq2",
        "eq. (2)",
        "pi_theta(tau) = p_0(s_0) prod_{t=0}^T p(s_{t+1}|s_t,a_t) pi_theta(a_t|s_t) is a distribution",
        "holds",
        sized(quiz.trajectory_distribution, quiz.SYMBOLIC_SIZES),
        P,
    ),
    _c("quiz1", "quiz item 1", "grad_x log x = 1/x", "holds", quiz.quiz1, G),
    _c("quiz2", "quiz item 2", "grad_x log f(x) = f'(x)/f(x)", "holds", quiz.quiz2, G),
    _c(
        "quiz3",
        "quiz item 3",
        "grad_theta log f_theta(x) = grad_theta f_theta(x)/f_theta(x)",
        "holds",
        sized(quiz.quiz3, (1, 2, 3)),
        P,
    ),
    _c(
        "quiz4",
        "quiz item 4 and its '=>' line",
        "grad log p = grad p / p  =>  grad p = p grad log p",
        "holds",
        _outcomes(quiz.quiz4),
        P,
    ),
    _c(
        "quiz5",
        "quiz item 5",
        "grad (R(x) log p_theta(x)) = R(x) grad p_theta(x)/p_theta(x)",
        "holds",
        _outcomes(quiz.quiz5),
        P,
    ),
    _c("quiz6", "quiz item 6", "grad int R log p dx = int R grad p / p dx", "holds", _outcomes(quiz.quiz6), P),
    _c(
        "quiz7",
        "quiz item 7",
        "grad int R p dx = int R grad p dx = E_p[R grad log p]",
        "holds",
        _outcomes(quiz.quiz7),
        P,
    ),
    _c("quiz8", "quiz item 8", "grad E_p[R(x)] = E_p[R(x) grad log p(x)]", "holds", sized(quiz.quiz8, (2, 3, 4)), P),
    _c(
        "quiz9",
        "quiz item 9",
        "grad E_p(tau)[R(tau)] = E_p(tau)[R(tau) grad log p(tau)]",
        "holds",
        _mdps(quiz.quiz9),
        INST,
    ),
    _c(
        "quiz10",
        "quiz item 10",
        "grad E[sum_t gamma^t r] = E[(sum_t gamma^t r)(sum_t grad log pi(a_t|s_t))]",
        "holds",
        _mdps(quiz.quiz10),
        INST,
    ),
    _c(
        "eq4",
        "eq. (4) and 'gradients point towards increasing values'",
        "x <- x + eta grad f(x) increases f for a small enough eta > 0 (d/deta f = ||grad f||^2)",
        "holds",
        sized(more.gradient_ascent_step, (1, 2, 3)),
        P,
    ),
    _c(
        "sec3.inside",
        "§3 'A common mistake' (Incorrect math)",
        "grad E[R] = E[grad R] = 0 is incorrect: the gradient cannot be pushed inside",
        "holds",
        _outcomes(quiz.gradient_inside_is_wrong),
        P,
    ),
    _c(
        "eq7-10",
        "eqs. (7)-(11)",
        "grad int R pi = int R grad pi = int R pi grad log pi = E[R grad log pi]",
        "holds",
        _mdps(quiz.log_derivative_chain),
        INST,
    ),
    _c(
        "eq8.inside",
        "text after eq. (10) ('bounds of the integral do not depend on theta')",
        "grad_theta int R(tau) pi_theta(tau) dtau = int R(tau) grad_theta pi_theta(tau) dtau",
        "holds",
        sized(more.gradient_inside_integral, (1, 2, 3)),
        P,
    ),
    _c(
        "eq12-13",
        "eqs. (12)-(13)",
        "(1/k) sum R(tau) grad log pi(tau), tau ~ pi, estimates grad E[R]",
        "holds",
        _outcomes(quiz.monte_carlo_unbiased),
        P,
    ),
    _c(
        "eq13.plug",
        "'Plugging this into Eq. 13' (before eq. (17))",
        "(16) in (13): (1/k) sum_tau R(tau) sum_t grad log pi(a_t|s_t) estimates grad E[R] without bias",
        "holds",
        sized(more.plug_into_13, ((1, 2, 2), (2, 2, 1), (1, 2, 3))),
        INST,
        reason="holds; note that (17)-(19) then restart from eq. (8), not from eq. (13)",
    ),
    _c(
        "sec3.1.mc-grad-p",
        "§3.1 (Incorrect math) after eq. (13)",
        "int R grad pi ~ (1/k) sum R grad pi(tau) is incorrect",
        "holds",
        _outcomes(quiz.monte_carlo_of_grad_p_is_wrong),
        P,
    ),
    _c(
        "eq14-16",
        "eqs. (14)-(16)",
        "grad log pi(tau) = sum_t grad log pi(a_t|s_t) (dynamics terms vanish)",
        "holds",
        sized(quiz.dynamics_vanish, quiz.SYMBOLIC_SIZES),
        P,
    ),
    _c(
        "eq17-19",
        "eqs. (17)-(19)",
        "grad f = int grad pi R = int pi (grad pi/pi) R = E[grad log pi R]",
        "holds",
        _mdps(pg.eqs_17_19),
        INST,
    ),
    _c(
        "eq20",
        "eq. (20)",
        "= E[(grad log prod_t p(s_{t+1}|s_t,a_t) pi(a_t|s_t)) p(s_0) R(tau)]",
        "erratum",
        _mdps(pg.eq_20),
        INST,
    ),
    _c(
        "eq21-22",
        "eqs. (21)-(22)",
        "grad f = E[(sum_t grad log pi(a_t|s_t)) sum_t' gamma^t' r_t']",
        "holds",
        _mdps(pg.eqs_21_22),
        INST,
    ),
    _c(
        "eq23",
        "eq. (23)",
        "sum_{t'=0}^T = sum_{t'=0}^{t-1} + sum_{t'=t}^T inside the expectation",
        "holds",
        _mdps(pg.eq_23),
        INST,
    ),
    _c(
        "eq24-25",
        "eqs. (24)-(25)",
        "E[past rewards * grad log pi(a_t|s_t)] = E[past rewards] E[grad log pi(a_t|s_t)] (then dropped)",
        "justification",
        _mdps(pg.eqs_24_25),
        INST,
    ),
    _c(
        "eq26",
        "eq. (26)",
        "grad f = sum_t E[sum_{t'=t}^T gamma^t' r_t' grad log pi(a_t|s_t)]",
        "holds",
        _mdps(pg.eq_26),
        INST,
    ),
    _c(
        "eq27",
        "eq. (27)",
        "(26) = E[sum_t' gamma^t' r_t' sum_t grad log pi(a_t|s_t)] (an equality of expectations)",
        "holds",
        _mdps(pg.eq_27),
        INST,
        reason="the printed equality of expectations is true; (27)'s integrand is the full return of eq. (22), "
        "not the reward-to-go integrand of (26) that the text then credits with the lower variance",
    ),
    _c(
        "footnote1",
        "footnote 1 to eq. (25)",
        "the expectation of the removed term is exactly zero",
        "holds",
        _mdps(pg.footnote_1),
        INST,
    ),
    _c(
        "sec3.2.variance",
        "§3.2 text after eq. (27)",
        "removing the rewards before t (reward to go) decreases the variance of the estimator",
        "erratum",
        sized(pg.variance_claim, tuple(pg.VARIANCE_POINTS)),
        INST,
    ),
    _c(
        "eq28-29",
        "eqs. (28)-(29)",
        "grad E_D[log pi(a|s)] = E_D[grad log pi(a|s)]",
        "holds",
        sized(pg.eqs_28_29, ((2, 2), (2, 3), (3, 2))),
        P,
    ),
    _c(
        "sec3.4",
        "§3.4 reward-weighted regression",
        "the policy gradient is behavioural cloning on on-policy data with each term weighted by its reward",
        "holds",
        _mdps(pg.weighted_bc),
        INST,
    ),
    _c(
        "eq33", "eq. (33)", "grad_mu E_p[f(x)] = E_p_mu[f(x) grad_mu p_mu(x)]", "erratum", sized(cem.eq_33, cem.DIMS), P
    ),
    _c(
        "eq34",
        "eq. (34)",
        "= E_p_mu[f(x) (1/2)||mu - x||^2], i.e. the score of N(mu,1) is (1/2)||mu-x||^2",
        "erratum",
        sized(cem.eq_34, cem.DIMS),
        P,
    ),
    _c(
        "eq35",
        "eq. (35)",
        "grad_mu = 0 => E[f(x)] mu = E[f(x) x]",
        "justification",
        sized(cem.eq_35, cem.DIMS),
        P,
        same_cause_as="eq34",
    ),
    _c(
        "eq36",
        "eq. (36)",
        "mu ~ (1/k sum f x)/(1/k sum f) = sum_i weight_i x_i, a weighted average (CEM if f in {0,1})",
        "holds",
        sized(cem.eq_36, (2, 3, 4)),
        P,
    ),
    _c(
        "eq36.fixed-point",
        "eqs. (35)-(36)",
        "mu = E[f x]/E[f] characterises the stationary mu (a fixed point)",
        "holds",
        sized(cem.fixed_point_36, cem.DIMS),
        P,
    ),
    _c(
        "eq37",
        "eq. (37), first equality",
        "argmax_theta E[R] = argmax_theta log E[R] (E[R] > 0)",
        "holds",
        more.argmax_log,
        G,
    ),
    _c(
        "sec5.positive",
        "§5 'assume (without loss of generality) that the returns are positive'",
        "shifting R by a constant c does not move the argmax: E[R + c] = E[R] + c",
        "holds",
        _outcomes(more.returns_positive),
        P,
    ),
    _c(
        "eq37-38",
        "eqs. (37)-(38)",
        "argmax_theta log E[R] = log E_pi[R q/q]",
        "typo/notation",
        sized(cem.eqs_37_38, (1, 2, 3)),
        INST,
        reason="the argmax of (37) is carried into (38) by mistake: the chain is about the objective log E[R], "
        "and (38) = log E[R] holds (checked as the correction)",
    ),
    _c(
        "eq39",
        "eq. (39)",
        "log E_pi[R] >= E_q[log R + log p_theta - log q] for any q",
        "holds",
        sized(cem.eq_39, cem.OUTCOMES),
        P,
    ),
    _c(
        "eq39.equality",
        "text after eq. (39)",
        "equality when q = R p_theta / int R p_theta",
        "holds",
        sized(cem.eq_39_equality, cem.OUTCOMES),
        P,
    ),
    _c(
        "eq40",
        "eq. (40)",
        "max_theta log E[R] >= max_{theta,q} E_q[log R + log p_theta - log q]",
        "holds",
        sized(cem.eq_40, cem.OUTCOMES),
        P,
    ),
]

_D = "definition"
COVERAGE = [Item(f"quiz item {k}", "fill in the blank", f"000.quiz{k}") for k in range(1, 11)] + [
    Item("eq. (1)", "the RL objective", why=_D + ": the objective"),
    Item("eq. (2)", "trajectory likelihood", "000.eq2"),
    Item("eq. (3)", "objective in trajectory form", why=_D + ": R(tau) and the objective"),
    Item("eq. (4)", "gradient ascent increases f", "000.eq4"),
    Item("eq. (5)", "the gradient to compute", why=_D + ": names the quantity"),
    Item("eq. (6)", "supervised gradient with a fixed dataset", "000.eq28-29"),
    Item("§3", "'A common mistake' (Incorrect math)", "000.sec3.inside"),
    Item("eqs. (7)-(10)", "log-derivative trick", "000.eq7-10"),
    Item("after eq. (10)", "moving grad inside the integral", "000.eq8.inside"),
    Item("eq. (11)", "grad log pi = grad pi / pi", "000.quiz4"),
    Item("eqs. (12)-(13)", "Monte Carlo estimate", "000.eq12-13"),
    Item("§3.1", "Incorrect Monte Carlo of int R grad pi", "000.sec3.1.mc-grad-p"),
    Item("eqs. (14)-(16)", "dynamics terms vanish", "000.eq14-16"),
    Item("before eq. (17)", "'plugging this into Eq. 13'", "000.eq13.plug"),
    Item("eqs. (17)-(19)", "log-derivative on trajectories", "000.eq17-19"),
    Item("eq. (20)", "p(s_0) outside the log", "000.eq20"),
    Item("eqs. (21)-(22)", "score sum times return", "000.eq21-22"),
    Item("eq. (23)", "splitting the reward sum", "000.eq23"),
    Item("eqs. (24)-(25)", "factorising the past-reward term", "000.eq24-25"),
    Item("footnote 1", "the removed term has mean zero", "000.footnote1"),
    Item("eq. (26)", "reward to go", "000.eq26"),
    Item("eq. (27)", "(26) = full-return form", "000.eq27"),
    Item("§3.2 after (27)", "removing past rewards decreases variance", "000.sec3.2.variance"),
    Item("§3.3", "REINFORCE algorithm steps", why="not checkable: an algorithm listing (its gradient is eq. (21))"),
    Item("eqs. (28)-(29)", "behavioural cloning gradient", "000.eq28-29"),
    Item("§3.4", "PG = reward-weighted BC on on-policy data", "000.sec3.4"),
    Item("eqs. (30)-(32)", "zero-order problem and CEM objective", why=_D + ": the CEM objective"),
    Item("eq. (33)", "gradient of the Gaussian objective", "000.eq33"),
    Item("eq. (34)", "the Gaussian score", "000.eq34"),
    Item("eq. (35)", "stationarity condition", "000.eq35"),
    Item("eq. (36)", "weighted average / CEM elites", "000.eq36"),
    Item("eqs. (35)-(36)", "fixed-point reading", "000.eq36.fixed-point"),
    Item("§5", "returns positive without loss of generality", "000.sec5.positive"),
    Item("eq. (37)", "argmax E = argmax log E", "000.eq37"),
    Item("eq. (38)", "argmax carried into (38)", "000.eq37-38"),
    Item("eq. (39)", "ELBO", "000.eq39"),
    Item("after eq. (39)", "equality at the posterior q", "000.eq39.equality"),
    Item("eq. (40)", "joint maximisation bound", "000.eq40"),
]
