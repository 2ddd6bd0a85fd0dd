"""Machine checks (sympy) of every derivation in the five lectures the package is built on.

Each lecture module (``lecture_000`` ... ``lecture_004``) holds ``CLAIMS``, a list of
:class:`Claim` records (id, source, statement, expected verdict, check).  A check returns
``holds``, ``erratum`` (with a counterexample in numbers and a corrected statement that is
itself checked) or ``justification`` (right conclusion, wrong reason).

>>> from proofs import CLAIMS
>>> len(CLAIMS) >= 30
True
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

from . import lecture_000, lecture_001, lecture_002, lecture_003, lecture_004
from ._core import Claim, Finding, Verdict

LECTURES = (lecture_000, lecture_001, lecture_002, lecture_003, lecture_004)
CLAIMS = [c for lecture in LECTURES for c in lecture.CLAIMS]

__all__ = ["CLAIMS", "Claim", "Finding", "Verdict", "check_all", "check", "report", "main"]


def check(claim_id: str) -> Verdict:
    """Run the check of one claim, by id."""
    return next(c for c in CLAIMS if c.id == claim_id).verdict()


def check_all(errata_only: bool = False, workers: int | None = None) -> list:
    """Run every check; return the verdicts in claim order.

    Parameters
    ----------
    errata_only : bool
        Keep only the verdicts that are not ``holds``.
    workers : int, optional
        Processes to use (default: up to 2, or 1 when ``PROOFS_WORKERS=1``).
    """
    workers = workers or int(os.environ.get("PROOFS_WORKERS", min(2, os.cpu_count() or 1)))
    ids = [c.id for c in CLAIMS]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            verdicts = list(pool.map(check, ids))
    else:
        verdicts = [check(i) for i in ids]
    return [v for v in verdicts if not (errata_only and v.holds)]


def _row(v: Verdict) -> str:
    flag = "" if v.as_expected else f"  << expected {v.expected}"
    return f"{v.claim_id:<24} {v.kind:<13} {v.source}{flag}"


def report(verdicts) -> str:
    """The table (claim, verdict, source) followed by the errata with their corrections."""
    lines = [f"{'claim':<24} {'verdict':<13} source", "-" * 100]
    lines += [_row(v) for v in verdicts]
    bad = [v for v in verdicts if not v.holds]
    lines += ["", f"{len(verdicts)} claims: {len(verdicts) - len(bad)} hold, "
              f"{sum(v.kind == 'erratum' for v in bad)} errata, "
              f"{sum(v.kind == 'justification' for v in bad)} wrong justifications", ""]
    for v in bad:
        lines += [f"[{v.claim_id}] {v.kind}: {v.source}",
                  f"  statement:      {v.statement}",
                  f"  counterexample: {v.counterexample}",
                  f"  correction:     {v.correction}",
                  f"  correction checked and holds: {v.correction_holds}", ""]
    return "\n".join(lines)


def main() -> int:
    """Print the report; exit status 1 if a registered verdict is not met (exceptions propagate)."""
    verdicts = check_all()
    print(report(verdicts))
    unexpected = [v.claim_id for v in verdicts if not v.as_expected]
    if unexpected:
        print("UNEXPECTED VERDICTS:", ", ".join(unexpected))
        return 1
    return 0
