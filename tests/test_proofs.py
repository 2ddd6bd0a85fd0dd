"""Every claim of every lecture reaches its registered grade, with evidence; every check is live.

All checks run once per session (``verdicts``); the mutation test runs each check once more,
mutated, and asserts its verdict flips.
"""
from concurrent.futures import ProcessPoolExecutor

import pytest

import proofs
from proofs import BY_ID, CLAIMS, FAULTS, GRADES, TIERS, as_json, check_all, report, summary
from proofs._coverage import coverage
from proofs.mutations import MUTATIONS, mutated_grade

#: How each lecture is cited (by title, never by a file name).
LECTURE_TITLES = {"000": "Lecture 6: The Policy Gradient",
                  "001": "Lindauer, RL: Policy Search — Analytic Gradient (LUH 2021)",
                  "002": "Lecture 15: Policy Optimization with Trust Regions",
                  "003": "Policy Gradient (continued)", "004": "Levine, CS 285 Lecture 5: Policy Gradients"}


@pytest.fixture(scope="session")
def verdicts():
    """One run of every check, shared by every test of the proofs."""
    return {v.claim_id: v for v in check_all()}


@pytest.mark.parametrize("claim_id", [c.id for c in CLAIMS])
def test_claim_reaches_registered_grade(verdicts, claim_id):
    v = verdicts[claim_id]
    assert v.kind == BY_ID[claim_id].expected, v.residual
    assert v.lecture == LECTURE_TITLES[claim_id[:3]] and v.source == f"{v.lecture}, {v.location}"
    assert v.statement and v.tier in TIERS
    if v.kind in FAULTS:
        assert v.counterexample, "a fault of the lecture needs a counterexample in numbers"
        assert v.correction, "and a corrected statement"
        assert v.correction_holds is True, "the correction must itself be checked and hold"
    if v.correction:                                     # printed as math, the evidence in the residual
        assert "simplify" not in v.correction and "Matrix(" not in v.correction


def test_regrades_of_the_audit(verdicts):
    grade = {i: v.kind for i, v in verdicts.items()}
    assert grade["004.reinforce-sum"] == grade["003.rho-typo"] == "not an error"
    for i in ("000.eq37-38", "001.r-index", "002.npg-fisher", "003.iw-typo", "004.mc-equality"):
        assert grade[i] == "typo/notation", i
    assert grade["000.eq27"] == "holds"                 # the printed equality of expectations is true
    assert grade["004.causality"] == grade["002.cpi-improvement"] == "extension"
    for v in verdicts.values():
        if v.kind in ("not an error", "typo/notation", "extension"):
            assert v.reason, v.claim_id


def test_same_cause_links_and_distinct_error_count(verdicts):
    assert verdicts["000.eq35"].same_cause_as == "000.eq34"
    assert verdicts["002.trust-region-kl"].same_cause_as == "002.ell-expansion"
    for v in verdicts.values():
        if v.same_cause_as:
            assert verdicts[v.same_cause_as].kind in ("erratum", "justification"), v.claim_id
    s = summary(list(verdicts.values()))
    errors = {i for i, v in verdicts.items() if v.kind in ("erratum", "justification")}
    assert set(s["distinct_error_ids"]) == errors - {"000.eq35", "002.trust-region-kl"}
    assert s["distinct_errors"] == len(errors) - 2 and not s["unexpected"]
    assert sum(s["grades"].values()) == s["claims"] == len(CLAIMS)


def test_the_dead_checks_now_evaluate_the_printed_formula(verdicts):
    hit = verdicts["003.chain-hitting"]
    assert "printed (1/3)^(-H)" in hit.residual and "2 actions" in hit.counterexample
    assert "(1/3)^H" in hit.correction and "(1/2)^H" in hit.correction
    assert "P(g != 0) = 1/27" in verdicts["003.chain-zero-pg"].residual       # the estimator, computed
    assert "log E[R q/q]" in verdicts["000.eq37-38"].residual
    assert "printed IW line" in verdicts["003.iw-typo"].residual
    assert "KL = 1/2" in verdicts["002.kl-gauss"].counterexample
    assert "score = 1, printed = 1/2" in verdicts["000.eq34"].counterexample


def _mutated(claim_id):
    return claim_id, mutated_grade(claim_id)


@pytest.mark.slow
def test_every_mutation_flips_its_verdict():
    """The registry has one mutation per claim and each one changes the claim's grade."""
    assert set(MUTATIONS) == set(BY_ID)
    with ProcessPoolExecutor(2) as pool:
        grades = dict(pool.map(_mutated, list(BY_ID)))
    stuck = [i for i, g in grades.items() if g == BY_ID[i].expected]
    assert not stuck, f"checks that do not depend on what they check: {stuck}"


#: Instance/parametric claims still checked at one size, each with the reason (none left: every
#: instance/parametric claim runs at >= 3 sizes; 000.quiz2 is proved for an arbitrary f instead).
ONE_SIZE: set = set()


def test_tiers_general_where_the_issue_asks_and_sizes_elsewhere():
    for i in ("002.pg-q", "002.one-step", "002.visitation", "002.advantage", "002.baseline", "002.cpi-improvement",
              "002.hessian-fisher", "003.surrogate", "000.eq37", "000.quiz2"):
        assert BY_ID[i].tier == "general", i
    for c in CLAIMS:
        if c.tier == "general":
            assert not c.sizes, c.id
        elif c.id not in ONE_SIZE:
            assert len(set(c.sizes)) >= 3, f"{c.id}: checked at {c.sizes}"
        else:
            assert c.sizes, f"{c.id}: say at which size it is checked"
    assert ONE_SIZE <= set(BY_ID)


UNCOVERED_BY_THE_AUDIT = ["000.eq37", "000.sec5.positive", "000.eq8.inside", "000.eq4", "000.eq13.plug", "001.value",
                          "001.p-positive", "002.too-far", "002.kl-marginal", "002.preconditioning", "002.grad-ell",
                          "003.reset", "003.l-hat", "003.adv-constant", "003.local-optimum", "003.stop-typo",
                          "004.raise-actions"]


@pytest.mark.parametrize("lecture", proofs.LECTURES, ids=lambda m: m.__name__.rsplit("_", 1)[1])
def test_coverage_register(lecture):
    named = {i.claim for i in lecture.COVERAGE if i.claim}
    own = {c.id for c in lecture.CLAIMS}
    assert named <= own, f"the register names claims that do not exist: {named - own}"
    assert own <= named, f"claims missing from the register: {own - named}"
    assert coverage(lecture.COVERAGE) >= 0.95
    for item in lecture.COVERAGE:
        assert item.claim or item.why, item


def test_items_the_audit_found_uncovered_are_claims():
    registered = {i.claim for lec in proofs.LECTURES for i in lec.COVERAGE}
    assert set(UNCOVERED_BY_THE_AUDIT) <= registered


def test_report_and_json(verdicts):
    vs = list(verdicts.values())
    text = report(vs)
    for v in vs:
        assert v.claim_id in text
    assert "distinct errors of the lectures" in text and "why this grade" in text
    rows = as_json(vs)["claims"]
    assert {"id", "lecture", "location", "statement", "grade", "tier", "residual", "counterexample",
            "correction"} <= set(rows[0])
    assert {r["grade"] for r in rows} <= set(GRADES)


def test_claim_ids_unique_and_lectures_list_them():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) and len(ids) >= 90
    for lecture in proofs.LECTURES:
        for c in lecture.CLAIMS:
            assert c.id.split(".", 1)[1] in lecture.__doc__, c.id
