"""Claims, verdicts and the identity checker shared by every lecture module.

A :class:`Claim` is what a lecture asserts (id, lecture, location, statement) together
with its registered grade, its generality tier and a check.  A check returns a
:class:`Finding` whose ``kind`` is the mathematical outcome (``holds``: the printed
statement is true; ``erratum``: it is false; ``justification``: true for a wrong reason);
:meth:`Claim.verdict` turns it into a :class:`Verdict` graded on the scale :data:`GRADES`.
A grade is a judgement of what the outcome means for the lecture (a notation slip is not a
mathematical error); a verdict whose outcome contradicts the registered grade is reported
as the raw outcome, so ``as_expected`` fails.

Every check is live: :func:`mutated` perturbs the ``index``-th :func:`identity` a check
decides (or makes its printed side equal to the derived side), and the verdict must flip.

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

import contextlib
import contextvars
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import sympy as sp

KINDS = ("holds", "erratum", "justification")
#: Grades of a claim, and the outcome of its check each grade stands for.
GRADES = {
    "holds": "holds",
    "extension": "holds",
    "not an error": "holds",
    "erratum": "erratum",
    "typo/notation": "erratum",
    "justification": "justification",
}
#: Grades that are a fault of the lecture (shown by ``--errata``).
FAULTS = ("erratum", "typo/notation", "justification")
TIERS = ("general", "parametric", "instance")


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
    """The verdict on one claim.

    ``kind`` is the grade (one of :data:`GRADES`) when the check's outcome agrees with the
    registered grade ``expected``, else the raw outcome; ``holds`` is False exactly for the
    faults of the lecture (:data:`FAULTS`) and for unexpected failures.
    """

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
    lecture: str = ""
    location: str = ""
    tier: str = "instance"
    sizes: tuple = ()
    reason: str | None = None
    same_cause_as: str | None = None

    @property
    def as_expected(self) -> bool:
        """True when the verdict is the registered one."""
        return self.kind == self.expected


@dataclass(frozen=True)
class Claim:
    """A statement of a lecture, where it stands, its registered grade and tier, and its check.

    ``reason`` says why a grade other than holds/erratum was given (required for ``not an
    error``, ``typo/notation`` and ``extension``); ``same_cause_as`` names the claim whose
    error this one repeats (it is then not counted as a distinct error); ``sizes`` lists the
    sizes an instance or parametric check runs at.
    """

    id: str
    source: str
    statement: str
    expected: str
    check: Callable[[], Finding] = field(repr=False)
    lecture: str = ""
    location: str = ""
    tier: str = "instance"
    sizes: tuple = ()
    reason: str | None = None
    same_cause_as: str | None = None

    def grade(self, f: Finding) -> str:
        """The grade of an outcome: the registered grade when they agree, else the outcome."""
        return self.expected if GRADES[self.expected] == f.kind else f.kind

    def verdict(self, finding: Finding | None = None) -> Verdict:
        """Run the check (or take its ``finding``) and return the verdict."""
        f = self.check() if finding is None else finding
        kind = self.grade(f)
        holds = kind not in FAULTS and GRADES.get(kind) == "holds"
        correction, evidence = split_evidence(f.correction)
        residual = f.residual + (f" | correction checked: {evidence}" if evidence else "")
        return Verdict(
            self.id,
            holds,
            kind,
            self.expected,
            self.source,
            self.statement,
            residual,
            f.counterexample,
            correction,
            f.correction_holds,
            self.lecture,
            self.location,
            self.tier,
            self.sizes,
            self.reason,
            self.same_cause_as,
        )


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
        if not self.points:
            return f"simplify -> {self.symbolic} (exact; no substitution)"
        sym = "0" if all(x == 0 for x in _flat(self.symbolic)) else str(self.symbolic)
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


def identity(lhs, rhs, seed: int = 0, n: int = 3, domains: Mapping | None = None, symbolic: bool = True) -> Identity:
    """Decide ``lhs == rhs`` by simplify backed by ``n`` random rational substitutions.

    Raises ``ArithmeticError`` when simplify reaches 0 but a substitution does not.
    When simplify does not reach 0 the substitutions decide (a non-zero value is a
    counterexample).  ``symbolic=False`` skips simplify (substitutions only).
    """
    lhs, rhs = _mutate(lhs, rhs)
    diff = sp.Matrix(lhs) - sp.Matrix(rhs) if isinstance(lhs, (list, sp.MatrixBase)) else lhs - rhs
    rng = random.Random(seed)
    free = set().union(*(sp.sympify(e).free_symbols for e in _flat(diff)))
    if any(not x.is_commutative for x in free) or not free and not symbolic:
        return _exact_identity(diff)
    sym = _symbolic_zero(diff) if symbolic else None
    points, values = [], []
    for _ in range(n):
        p = random_point(free, rng, domains)
        v = [_value(e, p) for e in _flat(diff)]
        points.append(p)
        values.append(v[0] if len(v) == 1 else tuple(v))
    sym_zero = symbolic and all(x == 0 for x in _flat(sym))
    numeric_zero = all(all(_is_zero(x) for x in _flat_value(v)) for v in values) if n else sym_zero
    if sym_zero and not numeric_zero:
        raise ArithmeticError(f"simplify gives 0 but a substitution does not: {values}")
    return Identity(numeric_zero, sym, tuple(points), tuple(values))


def _exact_identity(diff) -> Identity:
    """Non-commutative (matrix-ring) residuals: decided by expansion alone, no substitution.

    Substituting numbers would commute the factors, so a non-zero residual is never
    tested at points; expansion to 0 is a proof.
    """
    sym = [sp.expand(e) for e in _flat(diff)]
    zero = all(x == 0 for x in sym)
    return Identity(zero, sym[0] if len(sym) == 1 else sp.Matrix(sym), (), ())


def _value(e, point):
    v = sp.sympify(e).xreplace(point)
    return v if v.is_Rational else sp.simplify(v)


def _flat_value(v):
    return list(v) if isinstance(v, tuple) else [v]


def holds_if(
    ok: bool,
    residual: str,
    counterexample: str | None = None,
    correction: str | None = None,
    correction_holds: bool | None = None,
) -> Finding:
    """A ``holds`` finding when ``ok``; otherwise an erratum with what was given."""
    return Finding("holds" if ok else "erratum", residual, counterexample, correction, correction_holds)


_EVIDENCE = re.compile(r"[:;]?\s*(?=simplify (?:->|skipped))")


def split_evidence(text: str | None) -> tuple:
    """``(math, evidence)``: a statement cut before the checker's residue (``simplify -> ...``).

    >>> split_evidence("E[A] = 0: simplify -> 0; at 3 random rational points -> [0, 0, 0]")
    ('E[A] = 0', 'simplify -> 0; at 3 random rational points -> [0, 0, 0]')
    """
    if not text:
        return text, None
    parts = _EVIDENCE.split(text, maxsplit=1)
    return (parts[0].rstrip(" :;"), parts[1]) if len(parts) == 2 else (text, None)


_MUTATION: contextvars.ContextVar[list | None] = contextvars.ContextVar("proofs_mutation", default=None)


def perturb(lhs, rhs):
    """Add 1/7 to the (first entry of the) left side: a true identity becomes false."""
    if isinstance(lhs, (list, sp.MatrixBase)):
        lhs = sp.Matrix(lhs).copy()
        lhs[0] = lhs[0] + sp.Rational(1, 7)
        return lhs, rhs
    return sp.sympify(lhs) + sp.Rational(1, 7), rhs


def equate(lhs, rhs):
    """Replace the left (printed) side by the right (derived) side: a false identity becomes true."""
    return rhs, rhs


@contextlib.contextmanager
def mutated(index: int, transform: Callable):
    """Within the block, apply ``transform(lhs, rhs)`` to the ``index``-th call of :func:`identity`."""
    token = _MUTATION.set([index, transform, index])
    try:
        yield
    finally:
        _MUTATION.reset(token)


def _rearm():
    """Restart the count of an active mutation (each size of a :func:`sized` check is mutated alike)."""
    state = _MUTATION.get()
    if state is not None:
        state[0] = state[2]


_SEVERITY = ("holds", "justification", "erratum")


def sized(check: Callable[..., Finding], sizes: tuple) -> Callable[[], Finding]:
    """Run ``check(size)`` at every size; the outcome is the most severe one found.

    A counterexample at one size refutes the printed statement (``erratum``); a wrong
    justification at one size is one; it ``holds`` only if it holds at every size.  The
    residual lists each size; the counterexample and correction come from the first size
    that shows them.
    """

    def run() -> Finding:
        found = []
        for size in sizes:
            _rearm()
            found.append((size, check(size)))
        kind = max((f.kind for _, f in found), key=_SEVERITY.index)
        first = next((f for _, f in found if f.kind == kind), found[0][1])
        at = next((z for z, f in found if f is first), sizes[0])
        return Finding(
            kind,
            " || ".join(f"{_size_name(z)}: {f.residual}" for z, f in found),
            None if first.counterexample is None else f"{_size_name(at)}: {first.counterexample}",
            first.correction,
            all(f.correction_holds for _, f in found) if first.correction else None,
        )

    run.__name__, run.__doc__ = getattr(check, "__name__", "check"), check.__doc__
    cast(Any, run).sizes = tuple(_size_name(z) for z in sizes)      # an attribute of the function object
    return run


def _size_name(size) -> str:
    if isinstance(size, tuple) and len(size) == 3:
        return "S={}, A={}, H={}".format(*size)
    return f"n={size}" if isinstance(size, int) else str(size)


def _mutate(lhs, rhs):
    state = _MUTATION.get()
    if state is None:
        return lhs, rhs
    state[0] -= 1
    return state[1](lhs, rhs) if state[0] == -1 else (lhs, rhs)


def registrar(lecture: str, title: str) -> Callable[..., Claim]:
    """A constructor of the claims of one lecture (cited by its ``title``).

    ``c(id, where, statement, grade, check, tier="instance", sizes=(), reason=None,
    same_cause_as=None)``.
    """

    def make(
        id_: str,
        where: str,
        statement: str,
        expected: str,
        check: Callable[[], Finding],
        tier: str = "instance",
        sizes: tuple = (),
        reason: str | None = None,
        same_cause_as: str | None = None,
    ) -> Claim:
        if expected not in GRADES:
            raise ValueError(f"expected must be one of {tuple(GRADES)}, found {expected!r}")
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, found {tier!r}")
        if expected in ("not an error", "typo/notation", "extension") and not reason:
            raise ValueError(f"claim {lecture}.{id_}: grade {expected!r} needs a reason")
        sizes = tuple(sizes) or getattr(check, "sizes", ())
        return Claim(
            f"{lecture}.{id_}",
            f"{title}, {where}",
            statement,
            expected,
            check,
            title,
            where,
            tier,
            sizes,
            reason,
            None if same_cause_as is None else f"{lecture}.{same_cause_as}",
        )

    return make
