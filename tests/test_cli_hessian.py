"""``tabular-pg solve`` reports the spectrum of the Hessian of J (tabular softmax at theta = log pi)."""
import json

import numpy as np
from conftest import random_mdp

import tabular_pg as tpg
from tabular_pg import io
from tabular_pg.cli.main import main


def solve_json(capsys, *argv):
    assert main(["solve", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_solve_reports_the_hessian_spectrum(capsys, tmp_path, rng):
    """Against the eigenvalues of an independent Hessian: central differences of the gradient
    (error ~1e-9 of the scale at eps = 1e-5, so 1e-6 is safe)."""
    mdp = random_mdp(rng, S=4, A=3, gamma=0.9)
    io.save(mdp, tmp_path / "m.json")
    h = solve_json(capsys, str(tmp_path / "m.json"))["hessian"]
    policy, eps = tpg.TabularSoftmax(4, 3), 1e-5
    theta = np.full(12, np.log(1 / 3))
    fd = np.stack([(tpg.policy_gradient(mdp, policy, theta + eps * e)
                    - tpg.policy_gradient(mdp, policy, theta - eps * e)) / (2 * eps) for e in np.eye(12)], axis=1)
    lam = np.linalg.eigvalsh((fd + fd.T) / 2)
    scale = np.abs(lam).max()
    assert abs(h["min"] - lam[0]) <= 1e-6 * scale and abs(h["max"] - lam[-1]) <= 1e-6 * scale
    assert h["d"] == 12 and h["positive"] + h["negative"] + h["zero"] == 12
    assert h["zero"] >= 4                                     # one null direction per state
    assert h["positive"] == int((lam > 1e-6 * scale).sum()) and h["negative"] == int((lam < -1e-6 * scale).sum())
    assert main(["solve", str(tmp_path / "m.json")]) == 0
    assert "Hessian of J (tabular softmax, theta = log pi, d = 12)" in capsys.readouterr().out


def test_the_hessian_vanishes_at_a_deterministic_optimum(capsys):
    h = solve_json(capsys, "garnet:S=6,A=2,b=2,seed=1", "--policy", "optimal")["hessian"]
    assert h["positive"] == 0 and h["negative"] == 0 and h["zero"] == 12


def test_the_spectrum_is_skipped_for_large_d(capsys):
    h = solve_json(capsys, "garnet:S=700,A=3,b=2,seed=0")["hessian"]
    assert h["d"] == 2100 and "2,000" in h["skipped"] and "min" not in h
    assert main(["solve", "garnet:S=700,A=3,b=2,seed=0", "--rows", "1"]) == 0
    assert "Hessian of J: skipped" in capsys.readouterr().out
