"""The claims of Levine, "CS 285 Lecture 5: Policy Gradients" (ids ``004.*``).

Claims (id: source):

- 004.log-gradient: "Direct Policy Differentiation", eq. objective_gradient
- 004.indices: eq. policy_gradient with pi(tau) = p(s_1) prod_{t=1}^T ...
- 004.mc-equality: eq. gradient_sample ('=' for the sample average)
- 004.reinforce-sum: REINFORCE step 2.2 without 1/N
- 004.interpretation: "Interpretation"
- 004.raise-actions: "Interpretation", raising a trajectory raises its actions
- 004.causality: "The causality issue" (r(tau) moved inside the sum)
"""

from __future__ import annotations

from . import _checks_001_004 as chk
from . import _checks_more as more
from ._core import registrar, sized
from ._coverage import Item

LECTURE = "Levine, CS 285 Lecture 5: Policy Gradients"

_c = registrar("004", LECTURE)
MDP = ("S=2, A=2, T=2",)

CLAIMS = [
    _c(
        "log-gradient",
        "eq. (objective_gradient)",
        "grad J = E_tau[grad log pi(tau) r(tau)]",
        "holds",
        sized(chk.log_gradient_004, chk.SA_SIZES),
        "instance",
    ),
    _c(
        "indices",
        "eq. (policy_gradient) and the plugged-in pi(tau)",
        "pi(tau) = p(s_1) prod_{t=1}^T pi(a_t|s_t) p(s_{t+1}|s_t,a_t); grad J = E[(sum_{t=1}^T grad log pi) r(tau)]",
        "holds",
        sized(chk.indices_004, chk.SA_SIZES),
        "parametric",
    ),
    _c(
        "mc-equality",
        "eq. (gradient_sample)",
        "grad J = (1/N) sum_i (sum_t grad log pi(a_t^i|s_t^i)) r(tau^i)",
        "typo/notation",
        sized(chk.mc_equality_004, chk.SA_SIZES),
        "instance",
        reason="'=' where '~' is meant: the text itself calls the sample average an unbiased estimate",
    ),
    _c(
        "reinforce-sum",
        "REINFORCE step 2.2 and the remark after it",
        "grad J ~ sum_i (...) r(tau^i) without 1/N, since the magnitude is set by the learning rate",
        "not an error",
        sized(chk.dropped_one_over_n_004, chk.SA_SIZES),
        "instance",
        reason="the lecture states the convention and why: E[sum_i] = N grad J, so the 1/N is absorbed into alpha "
        "(a fixed N gives the same steps; only a varying N changes the effective step)",
    ),
    _c(
        "interpretation",
        "§Interpretation",
        "a gradient step given by E_tau[grad log pi(tau)] makes the trajectory tau more probable",
        "erratum",
        sized(chk.interpretation_004, chk.SA_SIZES),
        "instance",
    ),
    _c(
        "raise-actions",
        "§Interpretation ('increasing the likelihood of a trajectory ... of the actions a_t')",
        "a step raising pi(tau) raises the likelihood of each of its actions a_t",
        "erratum",
        sized(more.actions_raised, (3, 4, 5)),
        "instance",
    ),
    _c(
        "causality",
        "§The causality issue (the text ends before the formula)",
        "r(tau) = sum_t r(s_t,a_t) moved inside: grad J = E[sum_t grad log pi(a_t|s_t) sum_t' r(s_t',a_t')]",
        "extension",
        sized(chk.causality_004, ((1, 2, 3), (2, 2, 2), (1, 3, 2))),
        "instance",
        reason="the lecture's text is truncated right after announcing this step; we check the step it announces",
    ),
]

COVERAGE = [
    Item("Notation", "pi_theta(a|s), pi_theta(tau), r(tau)", why="definition: notation"),
    Item("eq. (objective)", "J = E[r(tau)]", why="definition: the objective"),
    Item("eq. (objective_gradient)", "log gradient trick", "004.log-gradient"),
    Item("after eq. (objective_gradient)", "plugged-in pi(tau), terms without theta vanish", "004.indices"),
    Item("eq. (policy_gradient)", "sum_t grad log pi r(tau)", "004.indices"),
    Item("eq. (gradient_sample)", "sample average, unbiased", "004.mc-equality"),
    Item("REINFORCE", "step 2.2 without 1/N and the remark", "004.reinforce-sum"),
    Item("REINFORCE", "step 2.3 theta <- theta + alpha grad J", why="not checkable: an update rule"),
    Item("§Interpretation", "E[grad log pi(tau)] step makes tau more probable", "004.interpretation"),
    Item("§Interpretation", "r(tau) sign decides increase/decrease", "004.interpretation"),
    Item("§Interpretation", "raising tau raises its actions", "004.raise-actions"),
    Item("§The causality issue", "r(tau) moved inside the sum", "004.causality"),
]
