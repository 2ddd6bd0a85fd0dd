"""Lecture 001 ("RL: Policy Search — Analytic Gradient").

Claims (id: source):

- 001.r-index: "Computing the gradient analytically", tau and R(tau) indexing
- 001.lr-steps: "Likelihood Ratio Policy Gradient II", the four equalities
- 001.mc: "Likelihood Ratio Policy Gradient III", empirical estimate over m trajectories
- 001.decomposition: "Decomposing the Trajectories Into States and Actions"
"""
from __future__ import annotations

from . import _checks_001_004 as chk
from ._core import registrar

LECTURE = "Lindauer, RL: Policy Search — Analytic Gradient (LUH 2021)"

_c = registrar("001", LECTURE)


CLAIMS = [
    _c("r-index", "slides 1-2 (tau, R(tau))",
       "tau = (s_0, a_0, ..., s_{T-1}, a_{T-1}, s_T) and R(tau) = sum_{t=0}^T R(s_t, a_t)", "erratum",
       chk.reward_index_001),
    _c("lr-steps", "slides 'Likelihood Ratio Policy Gradient II/III'",
       "grad V = sum grad P R = sum (P/P) grad P R = sum P R grad P/P = sum P R grad log P", "holds",
       chk.lr_steps_001),
    _c("mc", "slide 'Likelihood Ratio Policy Gradient III'",
       "grad V ~ (1/m) sum_i R(tau_i) grad log P(tau_i; theta)", "holds", chk.monte_carlo_001),
    _c("decomposition", "slide 'Decomposing the Trajectories'",
       "grad log P(tau; theta) = sum_{t=0}^{T-1} grad log pi(a_t|s_t): no dynamics model required", "holds",
       chk.decomposition_001),
]
