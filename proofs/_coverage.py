"""The coverage register of a lecture: every derivation, identity, numbered equation and
quantitative claim, each mapped to the claim that checks it or to the reason it is not checked.

>>> coverage([Item("eq. (1)", "a definition", why="definition: the objective"),
...           Item("eq. (2)", "an identity", claim="000.eq2"), Item("eq. (3)", "not yet")])
0.5
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One entry of a lecture's coverage register: a derivation, identity, equation or claim.

    ``claim`` names the claim id that checks it; otherwise ``why`` says why not, starting
    with ``"definition"`` or ``"not checkable"`` (an item without either is uncovered).
    """

    where: str
    what: str
    claim: str | None = None
    why: str | None = None

    @property
    def checkable(self) -> bool:
        """False for definitions and statements with no mathematical content to check."""
        return self.claim is not None or not (self.why or "").startswith(("definition", "not checkable"))


def coverage(items) -> float:
    """The fraction of the checkable items of a register that name a claim."""
    checkable = [i for i in items if i.checkable]
    return sum(i.claim is not None for i in checkable) / len(checkable)
