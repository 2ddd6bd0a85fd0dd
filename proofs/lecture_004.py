"""Lecture 004 ("Lecture 5: Policy Gradients", Levine 2019 notes).

Claims (id: source):

- 004.log-gradient: "Direct Policy Differentiation", eq. objective_gradient
- 004.indices: eq. policy_gradient with pi(tau) = p(s_1) prod_{t=1}^T ...
- 004.mc-equality: eq. gradient_sample ('=' for the sample average)
- 004.reinforce-sum: REINFORCE step 2.2 without 1/N
- 004.interpretation: "Interpretation"
- 004.causality: "The causality issue" (r(tau) moved inside the sum)
"""
from __future__ import annotations

from . import _checks_001_004 as chk
from ._core import registrar

LECTURE = "Levine, CS 285 Lecture 5: Policy Gradients"

_c = registrar("004", LECTURE)


CLAIMS = [
    _c("log-gradient", "eq. (objective_gradient)", "grad J = E_tau[grad log pi(tau) r(tau)]", "holds",
       chk.log_gradient_004),
    _c("indices", "eq. (policy_gradient) and the plugged-in pi(tau)",
       "pi(tau) = p(s_1) prod_{t=1}^T pi(a_t|s_t) p(s_{t+1}|s_t,a_t); grad J = E[(sum_{t=1}^T grad log pi) r(tau)]",
       "holds", chk.indices_004),
    _c("mc-equality", "eq. (gradient_sample)", "grad J = (1/N) sum_i (sum_t grad log pi(a_t^i|s_t^i)) r(tau^i)",
       "erratum", chk.mc_equality_004),
    _c("reinforce-sum", "REINFORCE step 2.2 and the remark after it",
       "grad J ~ sum_i (...) r(tau^i) without 1/N, since the magnitude is set by the learning rate", "erratum",
       chk.dropped_one_over_n_004),
    _c("interpretation", "§Interpretation",
       "a gradient step given by E_tau[grad log pi(tau)] makes the trajectory tau more probable", "erratum",
       chk.interpretation_004),
    _c("causality", "§The causality issue", "r(tau) = sum_t r(s_t,a_t) moved inside: grad J = "
       "E[sum_t grad log pi(a_t|s_t) sum_t' r(s_t',a_t')]", "holds", chk.causality_004),
]
