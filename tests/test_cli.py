"""The ``tabular-pg`` command end to end: in-process ``main([...])`` and real subprocesses."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import random_mdp

import tabular_pg as tpg
from tabular_pg import io
from tabular_pg.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def mdp_file(tmp_path, rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.8)
    path = tmp_path / "m.json"
    io.save(mdp, path, states=["a", "b", "c", "d"], actions=["left", "right"])
    return mdp, path


def test_solve_file_text_and_json(capsys, mdp_file):
    mdp, path = mdp_file
    code, out, err = run(capsys, "solve", str(path))
    assert code == 0 and err == ""
    assert "Q[left]" in out and "residual" in out
    data = run_json(capsys, "solve", str(path))
    ev = tpg.evaluate(mdp, np.full((4, 2), 0.5))
    assert data["J"] == pytest.approx(ev.J, rel=1e-14)
    np.testing.assert_allclose(data["V"], ev.V, rtol=1e-13)
    np.testing.assert_allclose(data["d"], ev.d, rtol=1e-13)
    assert data["states"] == ["a", "b", "c", "d"]
    g = tpg.policy_gradient(mdp, tpg.TabularSoftmax(4, 2), np.zeros(8))
    assert data["gradient_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-12)


def test_solve_optimal_and_policy_file(capsys, mdp_file, tmp_path):
    mdp, path = mdp_file
    data = run_json(capsys, "solve", str(path), "--policy", "optimal")
    assert data["J"] == pytest.approx(data["J_star"], rel=1e-12)
    assert data["gradient_norm"] < 1e-10                      # a stationary point of J
    pi = np.array([[0.3, 0.7]] * 4)
    np.save(tmp_path / "pi.npy", pi)
    data = run_json(capsys, "solve", str(path), "--policy", str(tmp_path / "pi.npy"))
    assert data["J"] == pytest.approx(tpg.evaluate(mdp, pi).J, rel=1e-14)


def test_solve_gradient_at_a_stochastic_per_step_policy(capsys, tmp_path, rng):
    mdp = random_mdp(rng, S=3, A=2, gamma=0.9, horizon=4)
    pi = tpg.policies.softmax(rng.normal(size=(4, 3, 2)))
    path, pol_path = tmp_path / "h.npz", tmp_path / "pi.json"
    io.save(mdp, path)
    pol_path.write_text(json.dumps({"pi": pi.tolist()}))
    data = run_json(capsys, "solve", str(path), "--policy", str(pol_path))
    policy = tpg.TabularSoftmax(3, 2, horizon=4)
    g = tpg.policy_gradient(mdp, policy, np.log(pi).ravel())
    assert data["gradient_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-10)
    np.testing.assert_allclose(data["V"], tpg.evaluate(mdp, pi).V, rtol=1e-13)


def test_solve_zoo_chain(capsys):
    data = run_json(capsys, "solve", "chain:H=5")
    assert data["J"] == pytest.approx(3.0 ** -5, rel=1e-12)    # "Policy Gradient (continued)": A^-H
    assert data["J_star"] == pytest.approx(1.0)
    code, out, _ = run(capsys, "solve", "garnet:S=30,A=2,b=2,seed=3", "--rows", "5")
    assert code == 0 and "25 more states" in out


def test_zoo_lists_the_mdps(capsys):
    code, out, _ = run(capsys, "zoo")
    assert code == 0 and "chain" in out and "garnet" in out
    data = run_json(capsys, "zoo")
    assert data["chain"]["parameters"]["H"] == 10


def test_tour_small(capsys, tmp_path):
    out_dir = tmp_path / "t"
    data = run_json(capsys, "tour", "--small", "--out", str(out_dir), "--quiet")
    report = (out_dir / "report.md").read_text()
    assert report.startswith("# tabular-pg tour") and data["report"] == str(out_dir / "report.md")
    assert "3^-4" in report                                         # the chain's exact J = A^-H
    for title in ("Exact quantities", "Estimators vs exact", "Algorithms head to head", "Proofs"):
        assert f"## {title}" in report and title in data["sections"]
    exact = data["sections"]["Exact quantities"]["rows"][0]
    assert exact["J_uniform"] == pytest.approx(3.0 ** -4) and exact["J_star"] == pytest.approx(1.0)
    for f in data["figures"]:
        assert Path(f).read_bytes()[:4] == b"\x89PNG" and f"]({Path(f).name})" in report


@pytest.mark.parametrize("argv, message", [
    (["solve", "absent.json"], "No such file"),
    (["solve", "nosuchmdp:H=3"], "unknown MDP name"),
    (["solve", "chain:H=0"], "H"),
    (["solve", "chain:H=3", "--policy", "absent.npy"], "absent.npy"),
    (["frobnicate"], "invalid choice"),
    (["solve"], "required"),
    (["train", "chain:H=3", "--algo", "pg", "--iters", "0"], "--iters must be a positive integer"),
    (["solve", "chain:H=3", "--rows", "x"], "invalid int"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err
    assert err.startswith("tabular-pg")


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "tour" in out and "solve" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("tabular-pg ")


def test_malformed_file_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"states": 2, "actions": 1, "transitions": [[[1, 0]], [[0, 1]]], '
                   '"rewards": [[1], [0]], "mu": [1, 0]')
    code, _, err = run(capsys, "solve", str(bad))
    assert code == 2 and "not valid JSON" in err and len(err.strip().splitlines()) == 1
    bad.write_text('{"states": 2, "actions": 1, "transitions": [[[1, 0]], [[0, 1]]], '
                   '"rewards": [[1], [0]], "mu": [1, 0]}')
    code, _, err = run(capsys, "solve", str(bad))
    assert code == 2 and "'gamma' is missing" in err


def console_command():
    """The installed console script, or the same ``main`` through ``python -m``."""
    exe = shutil.which("tabular-pg")
    return [exe] if exe else [sys.executable, "-m", "tabular_pg.cli"]


def env_of_tree_under_test():
    """Environment whose imports resolve to the tree under test (not another installed copy)."""
    root = str(Path(tpg.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


def test_console_entry_subprocess(mdp_file, tmp_path):
    mdp, path = mdp_file
    done = subprocess.run(console_command() + ["solve", str(path), "--json"], capture_output=True, text=True,
                          timeout=120, env=env_of_tree_under_test())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["J"] == pytest.approx(tpg.evaluate(mdp, np.full((4, 2), 0.5)).J)
    bad = subprocess.run(console_command() + ["solve", str(tmp_path / "nope.npz")], capture_output=True, text=True,
                         timeout=120, env=env_of_tree_under_test())
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_gym_mdp_argument(capsys):
    pytest.importorskip("gymnasium")
    data = run_json(capsys, "solve", "gym:FrozenLake-v1:gamma=1.0", "--policy", "optimal")
    assert data["J"] == pytest.approx(14 / 17, abs=1e-12)
    code, _, err = run(capsys, "solve", "gym:NoSuchEnv-v0")
    assert code == 2 and "NoSuchEnv" in err


GARNET = "garnet:S=5,A=2,b=2,seed=0,gamma=0.8"


def test_estimators_command_sampled_agrees_with_exact(capsys):
    data = run_json(capsys, "estimators", GARNET, "--n", "20", "--seeds", "40")
    assert data["n"] == [20] and len(data["rows"]) == 7
    for row in data["rows"]:
        assert row["bias"] < 1e-3 * data["gradient_norm"]           # unbiased up to the truncation
        ratio = (row["rmse_sampled"][0] / row["rmse_exact"][0]) ** 2
        assert 0.5 < ratio < 1.8, row                                # 40 seeds: MSE within its spread
    rows = {r["estimator"]: r for r in data["rows"]}
    # baselines and critics reduce the exact variance ("Lecture 15: Policy Optimization with Trust Regions")
    trace_cov = {name: row["trace_cov"] for name, row in rows.items()}
    assert trace_cov["rtg - V baseline"] < trace_cov["REINFORCE reward-to-go"] < trace_cov["REINFORCE"]
    assert rows["exact A critic"]["trace_cov"] < rows["exact Q critic"]["trace_cov"]



@pytest.mark.parametrize("algo", ["pg", "npg", "cpi", "ppo", "cem"])
def test_train_exact_oracle_records_exact_J(capsys, algo):
    import mdps
    data = run_json(capsys, "train", GARNET, "--algo", algo, "--iters", "40")
    J = np.array(data["J"])
    mdp = mdps.from_spec(GARNET)
    assert J.shape == (41,) and J[0] == pytest.approx(tpg.evaluate(mdp, np.full((5, 2), 0.5)).J, rel=1e-12)
    assert data["J_star"] == pytest.approx(tpg.optimum(mdp).J, rel=1e-12)
    assert J[-1] > J[0] and J[-1] <= data["J_star"] + 1e-9      # improves, never beyond the optimum
    assert data["trajectories"][-1] == 0                          # the exact oracle samples nothing


def test_train_sampled_oracle_counts_trajectories(capsys):
    data = run_json(capsys, "train", GARNET, "--algo", "pg", "--iters", "10", "--sampled", "20", "--seed", "3")
    assert data["trajectories"] == [20 * t for t in range(11)]
    assert "sampled" in data["oracle"]
    again = run_json(capsys, "train", GARNET, "--algo", "pg", "--iters", "10", "--sampled", "20", "--seed", "3")
    assert again["J"] == data["J"]                                # seeded: reproducible
    code, out, _ = run(capsys, "train", GARNET, "--algo", "npg", "--iters", "5", "--step", "0.01")
    assert code == 0 and "delta=0.01" in out


def test_train_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    code, out, err = run(capsys, "train", GARNET, "--algo", "cpi", "--iters", "5", "--plot", str(png))
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG" and str(png) in out


def test_train_bad_step_is_a_usage_error(capsys):
    code, _, err = run(capsys, "train", GARNET, "--algo", "pg", "--step", "fast")
    assert code == 2 and "--step" in err
    code, _, err = run(capsys, "train", "chain:H=3", "--algo", "cpi", "--step", "bound")
    assert code == 2 and "bound" in err                           # Kakade-Langford needs gamma < 1



def test_proofs_command(capsys):
    import proofs
    first = proofs.CLAIMS[0]
    data = run_json(capsys, "proofs", "--claim", first.id)
    assert data["summary"]["claims"] == 1 and data["verdicts"][0]["claim_id"] == first.id
    assert data["verdicts"][0]["kind"] == first.expected       # the registered verdict
    code, out, _ = run(capsys, "proofs", "--claim", first.id)
    assert code == 0 and first.id in out
    code, _, err = run(capsys, "proofs", "--claim", "no.such.claim")
    assert code == 2 and "no.such.claim" in err and len(err.splitlines()) == 1
