"""The claims of Lindauer, "RL: Policy Search — Analytic Gradient" (LUH 2021) (ids ``001.*``).

Claims (id: source):

- 001.r-index: "Computing the gradient analytically", tau and R(tau) indexing
- 001.value: "Likelihood Ratio Policy Gradient I", V(theta) = sum_tau P(tau) R(tau)
- 001.lr-steps: "Likelihood Ratio Policy Gradient II", the four equalities
- 001.p-positive: the P/P step and the assumption behind it
- 001.mc: "Likelihood Ratio Policy Gradient III", empirical estimate over m trajectories
- 001.decomposition: "Decomposing the Trajectories Into States and Actions"
"""

from __future__ import annotations

from . import _checks_001_004 as chk
from . import _checks_more as more
from ._core import registrar, sized
from ._coverage import Item

LECTURE = "Lindauer, RL: Policy Search — Analytic Gradient (LUH 2021)"

#: (S, A, H) with trajectories (s_0, a_0, ..., s_H) summed exactly under symbolic dynamics.
SMALL = ((2, 2, 1), (3, 2, 1), (2, 2, 2))

_c = registrar("001", LECTURE)

CLAIMS = [
    _c(
        "r-index",
        "slides 1-2 (tau, R(tau))",
        "tau = (s_0, a_0, ..., s_{T-1}, a_{T-1}, s_T) and R(tau) = sum_{t=0}^T R(s_t, a_t)",
        "typo/notation",
        sized(chk.reward_index_001, chk.SA_SIZES),
        "instance",
        reason="an index slip: R sums to T while tau holds actions up to a_{T-1}; with the sum to T-1 every later "
        "step of the slides holds",
    ),
    _c(
        "value",
        "slide 'Likelihood Ratio Policy Gradient I'",
        "V(theta) = E[sum_t R(s_t, a_t); pi_theta] = sum_tau P(tau; theta) R(tau)",
        "holds",
        sized(more.value_as_sum, ((2, 2, 2), (1, 3, 2), (1, 2, 3))),
        "instance",
    ),
    _c(
        "lr-steps",
        "slides 'Likelihood Ratio Policy Gradient II/III'",
        "grad V = sum grad P R = sum (P/P) grad P R = sum P R grad P/P = sum P R grad log P",
        "holds",
        sized(chk.lr_steps_001, chk.SA_SIZES),
        "instance",
    ),
    _c(
        "p-positive",
        "slide 'Likelihood Ratio Policy Gradient II' (the P/P step) and 'differentiable whenever non-zero'",
        "the P/P step needs P(tau; theta) > 0; paths with P = 0 (for all theta) contribute grad P R = 0",
        "holds",
        sized(more.zero_probability_paths, SMALL),
        "instance",
    ),
    _c(
        "mc",
        "slide 'Likelihood Ratio Policy Gradient III'",
        "grad V ~ (1/m) sum_i R(tau_i) grad log P(tau_i; theta)",
        "holds",
        sized(chk.monte_carlo_001, chk.SA_SIZES),
        "instance",
    ),
    _c(
        "decomposition",
        "slide 'Decomposing the Trajectories'",
        "grad log P(tau; theta) = sum_{t=0}^{T-1} grad log pi(a_t|s_t): no dynamics model required",
        "holds",
        sized(chk.decomposition_001, SMALL),
        "parametric",
    ),
]

COVERAGE = [
    Item("slide 'Computing the gradient analytically'", "pi differentiable where non-zero", "001.p-positive"),
    Item("slides 1-2", "tau and R(tau) indexing", "001.r-index"),
    Item("slide 'Likelihood Ratio Policy Gradient I'", "V = E[sum R] = sum_tau P R", "001.value"),
    Item("slide 'Likelihood Ratio Policy Gradient I'", "theta* in argmax V", why="definition: the goal"),
    Item("slide 'Likelihood Ratio Policy Gradient II'", "the four equalities", "001.lr-steps"),
    Item("slide 'Likelihood Ratio Policy Gradient II'", "the P/P step needs P > 0", "001.p-positive"),
    Item("slide 'Likelihood Ratio Policy Gradient III'", "sum P R grad log P", "001.lr-steps"),
    Item("slide 'Likelihood Ratio Policy Gradient III'", "empirical estimate over m trajectories", "001.mc"),
    Item("slide 'Decomposing the Trajectories'", "grad log P = sum grad log pi", "001.decomposition"),
]
