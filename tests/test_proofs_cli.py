"""check_all, report and ``python -m proofs`` end to end."""
import subprocess
import sys

import pytest

from proofs import CLAIMS, check_all, report


@pytest.mark.slow
def test_check_all_and_report():
    verdicts = check_all()
    assert [v.claim_id for v in verdicts] == [c.id for c in CLAIMS]
    assert all(v.as_expected for v in verdicts)
    errata = check_all(errata_only=True)
    assert errata and all(not v.holds for v in errata)
    text = report(verdicts)
    for v in verdicts:
        assert v.claim_id in text
    assert "correction:" in text


@pytest.mark.slow
def test_python_m_proofs_exits_zero_and_prints_table():
    out = subprocess.run([sys.executable, "-m", "proofs"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "claim" in out.stdout and "erratum" in out.stdout
    assert "000.eq34" in out.stdout
