"""The mutation registry: one mutation per claim, each of which must flip the claim's verdict.

A mutation acts on the expression a check decides, through the hook of
:func:`proofs._core.identity`: ``perturb`` adds 1/7 to the left side of the ``index``-th
identity the check evaluates (a true identity becomes false), ``equate`` replaces the
printed side by the derived one (a false printed formula becomes true).  A check whose
verdict does not flip under its mutation does not depend on what it claims to check.

>>> from proofs.mutations import MUTATIONS
>>> MUTATIONS["003.chain-hitting"].transform
'equate'
"""

from __future__ import annotations

from dataclasses import dataclass

from . import BY_ID, CLAIMS
from ._core import GRADES, equate, mutated, perturb

TRANSFORMS = {"perturb": perturb, "equate": equate}


@dataclass(frozen=True)
class Mutation:
    """Apply ``transform`` to the ``index``-th identity of the check of ``claim_id``."""

    claim_id: str
    transform: str
    index: int = 0

    @property
    def description(self) -> str:
        what = (
            "add 1/7 to the left side (a true identity made false)"
            if self.transform == "perturb"
            else "replace the printed side by the derived side (a false formula made true)"
        )
        return f"identity #{self.index} of {self.claim_id}: {what}"


def _default(claim) -> Mutation:
    return Mutation(claim.id, "equate" if GRADES[claim.expected] == "erratum" else "perturb")


#: Claims whose decisive identity is not the first one their check evaluates, or that
#: hold because two things differ (so ``equate`` is what breaks them).
OVERRIDES = {
    "000.sec3.inside": Mutation("000.sec3.inside", "equate"),
    "000.sec3.1.mc-grad-p": Mutation("000.sec3.1.mc-grad-p", "equate"),
    "000.sec3.2.variance": Mutation("000.sec3.2.variance", "equate", 2),  # after the decomposition and the means
    "002.baseline": Mutation("002.baseline", "perturb", 1),  # identity #0 is E_pi[A] = 0
    # the printed statement needs a non-zero: F_t invertible, E[grad log pi(tau)] a direction
    "002.npg-fisher": Mutation("002.npg-fisher", "perturb"),
    "004.interpretation": Mutation("004.interpretation", "perturb"),
}

MUTATIONS = {c.id: OVERRIDES.get(c.id, _default(c)) for c in CLAIMS}


def mutated_grade(claim_id: str) -> str:
    """The grade the claim's check reaches under its registered mutation."""
    m, claim = MUTATIONS[claim_id], BY_ID[claim_id]
    with mutated(m.index, TRANSFORMS[m.transform]):
        return claim.grade(claim.check())
