"""``python -m proofs``: --claim, --errata and --json run and show only what they name."""
import dataclasses
import json
import subprocess
import sys

import pytest

import proofs
from proofs import BY_ID, check_all, main


def test_python_m_proofs_one_claim_as_json():
    out = subprocess.run([sys.executable, "-m", "proofs", "--claim", "000.eq34", "--json"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    (row,) = data["claims"]
    assert row["id"] == "000.eq34" and row["grade"] == "erratum" and row["tier"] == "parametric"
    assert row["lecture"] == "Lecture 6: The Policy Gradient" and row["location"] == "eq. (34)"
    assert row["counterexample"] and row["correction"] and data["summary"]["claims"] == 1


def _boom():
    raise AssertionError("this check should not have run")


def test_errata_and_claim_run_only_what_they_show(monkeypatch, capsys):
    holds, fault = "000.quiz1", "002.kl-gauss"
    monkeypatch.setitem(BY_ID, holds, dataclasses.replace(BY_ID[holds], check=_boom))
    vs = check_all(errata_only=True, ids=[holds, fault], workers=1)
    assert [v.claim_id for v in vs] == [fault]
    assert main(["--claim", fault]) == 0
    out = capsys.readouterr().out
    assert fault in out and holds not in out and "KL = 1/2" in out


def test_unknown_claim_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--claim", "no.such.claim"])
    assert e.value.code == 2 and "no.such.claim" in capsys.readouterr().err
    with pytest.raises(KeyError, match="no.such"):
        proofs.check("no.such.claim")
