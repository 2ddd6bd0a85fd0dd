"""tabular_pg.progress.progress: tqdm on stderr when installed and enabled, else silent."""
import sys

import numpy as np
import pytest

import mdps
import tabular_pg as tpg
from tabular_pg.progress import progress


def test_disabled_is_a_silent_pass_through(capsys):
    assert list(progress(range(3), desc="x", enabled=False)) == [0, 1, 2]
    with progress(total=4, enabled=False) as bar:
        bar.update(2)
        bar.set_postfix(J="1")
    assert len(progress([5, 6], enabled=False)) == 2 and list(progress(enabled=False)) == []
    assert capsys.readouterr() == ("", "")


def test_without_tqdm_it_is_silent(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)                  # `from tqdm import tqdm` raises ImportError
    bar = progress(total=3, desc="x")
    bar.update(3)
    bar.close()
    assert list(progress(iter("ab"), desc="y")) == ["a", "b"]
    assert capsys.readouterr() == ("", "")


def test_tqdm_bar_goes_to_stderr_and_ends_with_the_count(capsys):
    pytest.importorskip("tqdm")
    assert list(progress(range(3), desc="points")) == [0, 1, 2]
    out, err = capsys.readouterr()
    assert out == "" and "points:" in err and err.rstrip().endswith("3/3")


def test_run_draws_the_bar_only_when_asked_and_the_result_is_the_same(capsys):
    pytest.importorskip("tqdm")
    mdp = mdps.garnet(4, 2, 2, seed=0)
    pol = tpg.TabularSoftmax(4, 2)
    runs = [tpg.run(tpg.PolicyGradient(step=1.0), mdp, pol, pol.initial(), tpg.ExactOracle(mdp), 5, progress=show)
            for show in (False, True)]
    err = capsys.readouterr().err
    assert runs[0].same_run(runs[1])
    assert err.count("PolicyGradient") >= 1 and "J=" in err and err.rstrip().endswith("5/5")
    tpg.run(tpg.PolicyGradient(step=1.0), mdp, pol, pol.initial(), tpg.ExactOracle(mdp), 5, progress=False)
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(runs[0].J, runs[1].J)
