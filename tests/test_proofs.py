"""Every claim of every lecture reaches its registered verdict; errata carry evidence."""

import pytest

import proofs
from proofs import CLAIMS

SLOW = {"000.eq27", "000.eq24-25", "002.one-step", "002.pg-q", "003.surrogate", "003.variance-h3", "004.indices"}


def _param(c):
    marks = [pytest.mark.slow] if c.id in SLOW else []
    return pytest.param(c, id=c.id, marks=marks)


#: How each lecture is cited (by title, never by a file name).
LECTURE_TITLES = {"000": "Lecture 6: The Policy Gradient",
                  "001": "Lindauer, RL: Policy Search — Analytic Gradient (LUH 2021)",
                  "002": "Lecture 15: Policy Optimization with Trust Regions",
                  "003": "Policy Gradient (continued)", "004": "Levine, CS 285 Lecture 5: Policy Gradients"}


@pytest.mark.parametrize("claim", [_param(c) for c in CLAIMS])
def test_claim_reaches_registered_verdict(claim):
    v = claim.verdict()
    assert v.kind == claim.expected, v.residual
    assert v.source.startswith(LECTURE_TITLES[claim.id[:3]] + ", ")     # cited by title, then location
    if v.kind != "holds":
        assert v.counterexample, "an erratum needs a counterexample in numbers"
        assert v.correction, "an erratum needs a corrected statement"
        assert v.correction_holds is True, "the correction must itself be checked and hold"


def test_claim_ids_unique_and_enough():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 30


def test_every_lecture_has_claims_listed_in_its_docstring():
    for lecture in proofs.LECTURES:
        assert lecture.CLAIMS
        for c in lecture.CLAIMS:
            assert c.id.split(".", 1)[1] in lecture.__doc__, c.id
