"""Every script in examples/ runs, and what it prints is checked against the mathematics it shows."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested():
    tested = {"frozenlake_exact_gradient", "estimator_variance", "ppo_chain", "value_polytope", "dask_sweep"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_frozenlake_exact_gradient():
    pytest.importorskip("gymnasium")
    out = load("frozenlake_exact_gradient").main(n_episodes=20_000)
    # central differences with h = 1e-4: truncation O(h^2) ~ 1e-8 relative; round-off eps*J/h is far below
    assert out["fd_error"] < 1e-7
    assert out["bias"] < 1e-12                # REINFORCE is unbiased on a finite horizon, exactly
    assert out["z_max"] < 5                   # every coordinate within 5 exact standard errors


def test_estimator_variance():
    out = load("estimator_variance").main(n=20, batches=400)
    for name, row in out.items():
        assert row["bias"] < 1e-12, name      # every variant is unbiased on a finite horizon
        assert abs(row["z"]) < 5, name        # the measured MSE matches |bias|^2 + tr Cov / n
    traces = [row["trace"] for row in out.values()]
    assert traces[1] < traces[0] and traces[2] < traces[1]   # reward-to-go, then the baseline, reduce the variance


def test_ppo_chain():
    out = load("ppo_chain").main(H=8, n=50, iterations=40, seeds=5)
    assert np.all(out["exact oracle, start s0"] > 0.99)
    assert np.all(out["sampled oracle, uniform reset"] > 0.9)
    # without the reset, a seed whose 40 batches never saw the reward stays at the uniform policy exactly
    stuck = out["sampled oracle, start s0"] < 0.5
    assert stuck.any() and np.allclose(out["sampled oracle, start s0"][stuck], 3.0 ** -8, rtol=1e-12)


def test_value_polytope(tmp_path):
    pytest.importorskip("matplotlib")
    out = load("value_polytope").main(str(tmp_path / "polytope.png"), n_policies=2000)
    assert out["gap"] <= 1e-12                # V* dominates every policy's V, state by state
    assert abs(out["PG"] - out["J_star"]) < 1e-6 and abs(out["NPG"] - out["J_star"]) < 1e-6
    assert (tmp_path / "polytope.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", ["ppo_chain", "value_polytope"])
def test_examples_run_as_scripts(name):
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True,
                            timeout=300, cwd=EXAMPLES.parent)
    assert result.returncode == 0, result.stderr
    assert "J" in result.stdout


def test_dask_sweep(tmp_path):
    pytest.importorskip("dask.distributed")
    pytest.importorskip("pandas")
    example = load("dask_sweep")
    on_cluster = example.main(scheduler=None, n_workers=2, out=str(tmp_path / "t.csv"))
    serial = example.main(scheduler="serial")
    assert on_cluster.equals(serial)                          # bit-identical wherever the rows ran
    assert (tmp_path / "t.csv").read_text().count("\n") == len(serial) + 1
    row = serial[(serial.mdp_seed == 1) & (serial.H == 8) & (serial.estimator == "reward-to-go")].iloc[0]
    assert row.trace == example.variance({"mdp_seed": 1, "H": 8, "estimator": "reward-to-go"}, None)["trace"]
    means = serial.pivot_table(index="H", columns="estimator", values="trace")
    assert (means["total return"] > means["reward-to-go"]).all()
    assert (means["reward-to-go"] > means["reward-to-go + V"]).all()
    assert means["total return"].is_monotonic_increasing      # the variance grows with the horizon
