"""Machine checks (sympy) of the derivations in the five lectures the package is built on.

Each lecture module (``lecture_000`` ... ``lecture_004``) holds ``CLAIMS``, a list of
:class:`Claim` records (id, lecture, location, statement, registered grade, generality
tier, check), and ``COVERAGE``, its register of every derivation, identity, numbered
equation and quantitative claim, each mapped to a claim id or to the reason it is not
checked.  A check decides the *printed* statement: ``holds``, ``erratum`` (with a
counterexample in numbers and a corrected statement that is itself checked) or
``justification`` (right conclusion, wrong reason).  The grade says what that means for
the lecture (:data:`GRADES`): a notation slip is ``typo/notation``, a stated convention is
``not an error``, our additions are ``extension``; an erratum that repeats another's cause
names it in ``same_cause_as`` and is not counted twice.

>>> from proofs import CLAIMS
>>> len(CLAIMS) >= 30
True
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

from . import lecture_000, lecture_001, lecture_002, lecture_003, lecture_004
from ._core import FAULTS, GRADES, TIERS, Claim, Finding, Verdict

LECTURES = (lecture_000, lecture_001, lecture_002, lecture_003, lecture_004)
CLAIMS = [c for lecture in LECTURES for c in lecture.CLAIMS]
BY_ID = {c.id: c for c in CLAIMS}

#: The checks that take about a second or more (scheduled first).
SLOW = (
    "002.pg-q",
    "000.eq24-25",
    "000.sec3.4",
    "004.indices",
    "000.eq17-19",
    "000.eq20",
    "000.quiz10",
    "002.advantage",
    "003.variance-h3",
    "000.eq26",
    "000.eq27",
    "003.advantage",
    "001.decomposition",
)

__all__ = [
    "CLAIMS",
    "BY_ID",
    "GRADES",
    "FAULTS",
    "TIERS",
    "Claim",
    "Finding",
    "Verdict",
    "check_all",
    "check",
    "report",
    "as_json",
    "summary",
    "main",
]


def check(claim_id: str) -> Verdict:
    """Run the check of one claim, by id (``KeyError`` naming the id if there is none)."""
    if claim_id not in BY_ID:
        raise KeyError(f"no claim {claim_id!r}; ids look like {CLAIMS[0].id!r}")
    return BY_ID[claim_id].verdict()


def check_all(errata_only: bool = False, workers: int | None = None, ids=None) -> list:
    """Run the checks; return the verdicts in claim order.

    Parameters
    ----------
    errata_only : bool
        Run only the claims registered as faults of the lectures (:data:`FAULTS`); the
        other checks are not run at all.
    workers : int, optional
        Processes to use (default: up to 2, or 1 when ``PROOFS_WORKERS=1``).
    ids : iterable of str, optional
        Run only these claims.
    """
    workers = workers or int(os.environ.get("PROOFS_WORKERS", min(2, os.cpu_count() or 1)))
    ids = [c.id for c in CLAIMS] if ids is None else list(ids)
    if errata_only:
        ids = [i for i in ids if BY_ID[i].expected in FAULTS]
    if workers > 1 and len(ids) > 1:
        order = sorted(ids, key=lambda i: i not in SLOW)  # longest first: the workers finish together
        with ProcessPoolExecutor(workers) as pool:
            done = dict(zip(order, pool.map(check, order)))
        return [done[i] for i in ids]
    return [check(i) for i in ids]


def summary(verdicts) -> dict:
    """Counts per grade and tier, and the number of distinct errors of the lectures.

    A distinct error is a verdict graded ``erratum`` or ``justification`` that does not
    repeat the cause of another (``same_cause_as``).
    """
    grades = {g: sum(v.kind == g for v in verdicts) for g in GRADES}
    tiers = {t: sum(v.tier == t for v in verdicts) for t in TIERS}
    distinct = [v.claim_id for v in verdicts if v.kind in ("erratum", "justification") and not v.same_cause_as]
    return {
        "claims": len(verdicts),
        "grades": grades,
        "tiers": tiers,
        "distinct_errors": len(distinct),
        "distinct_error_ids": distinct,
        "unexpected": [v.claim_id for v in verdicts if not v.as_expected],
    }


def _row(v: Verdict) -> str:
    flag = "" if v.as_expected else f"  << expected {v.expected}"
    return f"{v.claim_id:<22} {v.kind:<13} {v.tier:<10} {v.lecture}, {v.location}: {v.statement}{flag}"


def _detail(v: Verdict) -> list:
    lines = [f"[{v.claim_id}] {v.kind}: {v.lecture}, {v.location}", f"  statement:      {v.statement}"]
    if v.reason:
        lines.append(f"  why this grade: {v.reason}")
    if v.same_cause_as:
        lines.append(f"  same cause as:  {v.same_cause_as} (not counted as a distinct error)")
    if v.counterexample:
        lines.append(f"  counterexample: {v.counterexample}")
    if v.correction:
        lines += [f"  correction:     {v.correction}", f"  correction checked and holds: {v.correction_holds}"]
    return lines + [""]


def report(verdicts) -> str:
    """The table (claim, grade, tier, lecture and location, statement), the summary, then the details.

    Details are printed for every verdict that is not plainly ``holds`` (faults with their
    counterexample and checked correction, ``not an error`` and ``extension`` with the reason)
    and for claims that hold with a remark (``reason``).
    """
    s = summary(verdicts)
    lines = [f"{'claim':<22} {'grade':<13} {'tier':<10} lecture, location: statement", "-" * 110]
    lines += [_row(v) for v in verdicts]
    counts = ", ".join(f"{n} {g}" for g, n in s["grades"].items() if n)
    tiers = ", ".join(f"{n} {t}" for t, n in s["tiers"].items() if n)
    lines += [
        "",
        f"{s['claims']} claims: {counts}; tiers: {tiers}",
        f"distinct errors of the lectures: {s['distinct_errors']} "
        "(errata and wrong justifications, repeats of the same cause counted once)",
        "",
    ]
    for v in verdicts:
        if v.kind != "holds" or v.reason:
            lines += _detail(v)
    return "\n".join(lines)


def as_json(verdicts) -> dict:
    """The verdicts as JSON-ready records (id, lecture, location, statement, grade, tier, ...)."""
    keys = (
        "lecture",
        "location",
        "statement",
        "tier",
        "sizes",
        "residual",
        "counterexample",
        "correction",
        "correction_holds",
        "reason",
        "same_cause_as",
        "expected",
    )
    rows = [
        {"id": v.claim_id, "grade": v.kind, **{k: getattr(v, k) for k in keys}, "as_expected": v.as_expected}
        for v in verdicts
    ]
    return {"summary": summary(verdicts), "claims": rows}


def main(argv=None) -> int:
    """``python -m proofs [--errata] [--claim ID ...] [--json]``; exit 1 if a verdict is not the registered one."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m proofs", description=main.__doc__)
    parser.add_argument("--errata", action="store_true", help="run and show only the faults of the lectures")
    parser.add_argument("--claim", action="append", metavar="ID", help="run and show only this claim (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    unknown = [i for i in args.claim or () if i not in BY_ID]
    if unknown:
        parser.error(f"--claim {unknown[0]!r} is not a claim id (e.g. {CLAIMS[0].id!r})")
    verdicts = check_all(errata_only=args.errata, ids=args.claim)
    print(json.dumps(as_json(verdicts), indent=1) if args.json else report(verdicts))
    unexpected = [v.claim_id for v in verdicts if not v.as_expected]
    if unexpected:
        print("UNEXPECTED VERDICTS:", ", ".join(unexpected))
        return 1
    return 0
