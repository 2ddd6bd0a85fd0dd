"""The identity checker and the records behind every verdict."""
import dataclasses

import pytest
import sympy as sp

from proofs import check
from proofs._core import Claim, Finding, equate, identity, mutated, perturb, random_point, registrar


def test_identity_decides_true_and_false_identities():
    x = sp.Symbol("x", positive=True)
    assert identity(sp.log(x**2), 2 * sp.log(x)).zero
    wrong = identity((x + 1) ** 2, x**2 + 1)
    assert not wrong.zero and "2*x" in wrong.report() and wrong.counterexample()


def test_identity_without_simplify_still_substitutes():
    x = sp.Symbol("x", real=True)
    r = identity(x**3 - x, x * (x - 1) * (x + 1), symbolic=False)
    assert r.zero and "skipped" in r.report()


def test_random_points_respect_domains_and_seed():
    g, y = sp.Symbol("gamma", positive=True), sp.Symbol("y", real=True)
    import random
    a = random_point({g, y}, random.Random(3), {g: (sp.Rational(1, 10), sp.Rational(9, 10))})
    b = random_point({g, y}, random.Random(3), {g: (sp.Rational(1, 10), sp.Rational(9, 10))})
    assert a == b and sp.Rational(1, 10) <= a[g] <= sp.Rational(9, 10) and a[y] != 0


def test_finding_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        Finding("maybe", "")


def test_claim_and_verdict_are_frozen():
    v = check("000.quiz1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.holds = False
    c = Claim("x", "src", "stmt", "holds", lambda: Finding("erratum", "r", "ce", "fix", True))
    v2 = c.verdict()
    assert not v2.holds and not v2.as_expected and v2.correction == "fix"


def test_grade_is_the_registered_one_only_when_the_outcome_agrees():
    typo = Claim("x", "src", "stmt", "typo/notation", lambda: Finding("erratum", "r", "ce", "fix: simplify -> 0", True))
    v = typo.verdict()
    assert v.kind == "typo/notation" and v.as_expected and not v.holds
    assert v.correction == "fix" and "correction checked: simplify -> 0" in v.residual
    wrong = Claim("y", "src", "stmt", "not an error", lambda: Finding("erratum", "r"))
    assert wrong.verdict().kind == "erratum" and not wrong.verdict().as_expected


def test_registrar_demands_reasons_and_known_tiers():
    c = registrar("999", "A title")
    with pytest.raises(ValueError, match="reason"):
        c("a", "eq. (1)", "s", "not an error", lambda: None)
    with pytest.raises(ValueError, match="tier"):
        c("a", "eq. (1)", "s", "holds", lambda: None, tier="proved")
    assert c("a", "eq. (1)", "s", "holds", lambda: None, same_cause_as="b").same_cause_as == "999.b"


def test_mutation_hook_flips_one_identity_only():
    x = sp.Symbol("x", positive=True)
    with mutated(1, perturb):
        first, second = identity(x, x), identity(x, x)
    assert first.zero and not second.zero
    with mutated(0, equate):
        assert identity(x**2, x).zero
    assert not identity(x**2, x).zero                    # outside the block nothing is mutated


def test_non_commutative_residuals_are_decided_without_substitution():
    A, B = sp.symbols("A B", commutative=False)
    r = identity(A * B, B * A)                            # equal at every numeric point, not as matrices
    assert not r.zero and "no substitution" in r.report()
    assert identity(A * (B + A), A * B + A**2).zero

