"""Claims, verdicts and the identity checker shared by every lecture module.

A :class:`Claim` is what a lecture asserts (id, source, statement) together with the
verdict we expect and a check.  A check returns a :class:`Finding`; :meth:`Claim.verdict`
turns it into a :class:`Verdict`.

The identity checker never trusts ``simplify`` alone: every symbolic residual is backed
by exact substitution of seeded random rationals, and a disagreement between the two
raises (the check itself is broken).

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", positive=True)
>>> identity(sp.diff(sp.log(x), x), 1 / x, seed=0).zero
True
>>> identity(x**2, x, seed=0).zero
False
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Mapping

import sympy as sp

KINDS = ("holds", "erratum", "justification")


@dataclass(frozen=True)
class Finding:
    """What a check found.

    Parameters
    ----------
    kind : {"holds", "erratum", "justification"}
        ``justification``: the conclusion is right but the printed reason is not.
    residual : str
        The symbolic residual(s) and the random-rational substitutions that back them.
    counterexample : str or None
        Concrete numbers refuting the statement (errata, justification errors).
    correction : str or None
        The corrected statement.
    correction_holds : bool or None
        Whether the corrected statement was itself checked and holds.
    """

    kind: str
    residual: str
    counterexample: str | None = None
    correction: str | None = None
    correction_holds: bool | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, found {self.kind!r}")


@dataclass(frozen=True)
class Verdict:
    """The verdict on one claim (``holds`` is True only for kind ``"holds"``)."""

    claim_id: str
    holds: bool
    kind: str
    expected: str
    source: str
    statement: str
    residual: str
    counterexample: str | None
    correction: str | None
    correction_holds: bool | None

    @property
    def as_expected(self) -> bool:
        """True when the verdict is the registered one."""
        return self.kind == self.expected


@dataclass(frozen=True)
class Claim:
    """A statement of a lecture, where it stands, the verdict we expect, and its check."""

    id: str
    source: str
    statement: str
    expected: str
    check: Callable[[], Finding] = field(repr=False)

    def verdict(self) -> Verdict:
        """Run the check and return the verdict."""
        f = self.check()
        return Verdict(self.id, f.kind == "holds", f.kind, self.expected, self.source,
                       self.statement, f.residual, f.counterexample, f.correction,
                       f.correction_holds)


@dataclass(frozen=True)
class Identity:
    """Result of :func:`identity`: is ``lhs - rhs`` zero, with the evidence."""

    zero: bool
    symbolic: sp.Expr
    points: tuple
    values: tuple

    def report(self) -> str:
        """One line: the symbolic residual and the substituted values."""
        vals = ", ".join(str(v) for v in self.values)
        if self.symbolic is None:
            return f"simplify skipped; at {len(self.points)} random rational points -> [{vals}]"
        sym = str(self.symbolic)
        sym = sym if len(sym) <= 240 else sym[:240] + " ...(non-zero, truncated)"
        return f"simplify -> {sym}; at {len(self.points)} random rational points -> [{vals}]"

    def counterexample(self) -> str | None:
        """The first random point where the residual is non-zero, or None."""
        for point, value in zip(self.points, self.values):
            if not all(_is_zero(x) for x in _flat_value(value)):
                pts = ", ".join(f"{k}={v}" for k, v in point.items())
                return f"at {pts}: lhs - rhs = {value}"
        return None


def random_rational(rng: random.Random, lo, hi, den: int = 7) -> sp.Rational:
    """A rational in ``[lo, hi]`` with denominator up to ``den`` (never 0 unless lo=hi=0)."""
    while True:
        q = sp.Rational(rng.randint(int(lo * den), int(hi * den)), rng.randint(1, den))
        if lo <= q <= hi and q != 0:
            return q


def random_point(symbols, rng: random.Random, domains: Mapping | None = None) -> dict:
    """Random rationals for ``symbols``: positive symbols in (0, 3], others in [-3, 3]."""
    domains = dict(domains or {})
    point = {}
    for s in sorted(symbols, key=str):
        lo, hi = domains.get(s, (sp.Rational(1, 5), 3) if s.is_positive else (-3, 3))
        point[s] = random_rational(rng, lo, hi)
    return point


def _flat(expr):
    return list(expr) if isinstance(expr, sp.MatrixBase) else [expr]


def _is_zero(value) -> bool:
    if value == 0:
        return True
    return abs(sp.N(value, 60)) < sp.Float("1e-45")


def _rational_zero(e) -> bool:
    """Exact zero test of a rational function: the numerator over a common denominator."""
    num, _ = sp.fraction(sp.together(e))
    gens = sorted(num.free_symbols, key=str)
    return sp.Poly(num, *gens).is_zero if gens else sp.simplify(num) == 0


def _symbolic_zero(expr):
    out = []
    for e in _flat(expr):
        e = sp.sympify(e)
        if e.is_rational_function() and _rational_zero(e):
            out.append(sp.Integer(0))
            continue
        r = sp.cancel(sp.together(e))
        if r != 0 and not r.is_rational_function():
            r = sp.simplify(r)  # cancel is decisive for rational functions; simplify only beyond them
        out.append(r)
    return out[0] if len(out) == 1 else sp.Matrix(out)


def identity(lhs, rhs, seed: int = 0, n: int = 3, domains: Mapping | None = None,
             symbolic: bool = True) -> Identity:
    """Decide ``lhs == rhs`` by simplify backed by ``n`` random rational substitutions.

    Raises ``ArithmeticError`` when simplify reaches 0 but a substitution does not.
    When simplify does not reach 0 the substitutions decide (a non-zero value is a
    counterexample).  ``symbolic=False`` skips simplify (substitutions only).
    """
    diff = sp.Matrix(lhs) - sp.Matrix(rhs) if isinstance(lhs, (list, sp.MatrixBase)) else lhs - rhs
    rng = random.Random(seed)
    free = set().union(*(sp.sympify(e).free_symbols for e in _flat(diff)))
    sym = _symbolic_zero(diff) if symbolic else None
    points, values = [], []
    for _ in range(n):
        p = random_point(free, rng, domains)
        v = [_value(e, p) for e in _flat(diff)]
        points.append(p)
        values.append(v[0] if len(v) == 1 else tuple(v))
    numeric_zero = all(all(_is_zero(x) for x in _flat_value(v)) for v in values)
    sym_zero = symbolic and all(x == 0 for x in _flat(sym))
    if sym_zero and not numeric_zero:
        raise ArithmeticError(f"simplify gives 0 but a substitution does not: {values}")
    return Identity(numeric_zero, sym, tuple(points), tuple(values))


def _value(e, point):
    v = sp.sympify(e).xreplace(point)
    return v if v.is_Rational else sp.simplify(v)


def _flat_value(v):
    return list(v) if isinstance(v, tuple) else [v]


def holds_if(ok: bool, residual: str, counterexample: str | None = None,
             correction: str | None = None, correction_holds: bool | None = None) -> Finding:
    """A ``holds`` finding when ``ok``; otherwise an erratum with what was given."""
    return Finding("holds" if ok else "erratum", residual, counterexample, correction,
                   correction_holds)


def registrar(lecture: str, title: str) -> Callable[..., Claim]:
    """A constructor of the claims of one lecture (cited by its ``title``): ``c(id, where, statement, expected, check)``."""
    def make(id_: str, where: str, statement: str, expected: str, check: Callable[[], Finding]) -> Claim:
        if expected not in KINDS:
            raise ValueError(f"expected must be one of {KINDS}, found {expected!r}")
        return Claim(f"{lecture}.{id_}", f"{title}, {where}", statement, expected, check)
    return make
