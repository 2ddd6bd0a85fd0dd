"""The identity checker and the records behind every verdict."""
import dataclasses

import pytest
import sympy as sp

from proofs import check
from proofs._core import Claim, Finding, identity, random_point


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


def test_known_errata_numbers():
    assert "KL = 1/2" in check("002.kl-gauss").counterexample
    assert "1/3" in check("003.chain-hitting").counterexample
    assert "(1/3)^H" in check("003.chain-hitting").correction
    assert "score = 1, printed = 1/2" in check("000.eq34").counterexample
