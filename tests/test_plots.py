"""Figures are written, are PNGs, and refuse inputs they cannot draw."""
import numpy as np
import pytest
from conftest import random_mdp

import tabular_pg as tpg
from tabular_pg.cli import plots
from tabular_pg.cli.report import dadashi_mdp

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000


def exact_pg_path(mdp, theta, step, iterations):
    """Policies of exact softmax policy-gradient ascent (a sequence for the polytope)."""
    policy, seq = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions), []
    for _ in range(iterations):
        seq.append(policy.probs(theta))
        theta = theta + step * tpg.policy_gradient(mdp, policy, theta)
    return seq


def test_value_polytope_with_paths(tmp_path):
    mdp = dadashi_mdp()
    start = np.array([0.0, 3.0, 0.0, 3.0])
    seq = exact_pg_path(mdp, start, 0.5, 80)
    # the path ends higher than it starts: gradient ascent on J = mu . V
    assert tpg.evaluate(mdp, seq[-1]).J > tpg.evaluate(mdp, seq[0]).J
    path = plots.save(plots.value_polytope(mdp, paths={"PG": seq, "start only": seq[:1]},
                                           n_policies=300, rng=np.random.default_rng(1)), tmp_path / "poly.png")
    assert_png(path)


def test_value_polytope_needs_two_states(tmp_path, rng):
    with pytest.raises(ValueError, match="2 states"):
        plots.value_polytope(random_mdp(rng, S=3, A=2))


def test_learning_curves_estimators_and_horizon(tmp_path, rng):
    curves = {"exact": np.linspace(0, 1, 30), "sampled": np.linspace(0, 1, 30) + rng.normal(0, 0.05, (4, 30))}
    assert_png(plots.save(plots.learning_curves(curves, J_star=1.0), tmp_path / "lc.png"))
    assert_png(plots.save(plots.learning_curves(curves, J_star=1.1, log_gap=True), tmp_path / "gap.png"))
    n = np.array([10, 30, 100])
    assert_png(plots.save(plots.estimator_errors(n, {"a": 1 / np.sqrt(n)}, {"a": 1 / n}), tmp_path / "e.png"))
    H = np.array([2, 4, 8, 16])
    assert_png(plots.save(plots.variance_vs_horizon(H, {"H^3": 0.5 * H ** 3.0}), tmp_path / "v.png"))
    assert plots.slope(H, 0.5 * H ** 3.0) == pytest.approx(3.0)


def test_grid_values(tmp_path):
    cells = np.array([[0, 0], [0, 1], [1, 1]])                  # (1, 0) is a wall
    pi = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0.25] * 4])
    assert_png(plots.save(plots.grid_values(np.array([1.0, 2.0, 3.0]), cells, pi=pi, terminal=[2]), tmp_path / "g.png"))


def test_a_missing_folder_is_an_error_not_created(tmp_path):
    # issue 20: --plot /nonexistent/dir/x.png created directories; save writes into existing folders only
    fig = plots.estimator_errors([1, 2], {"a": [1, 0.5]}, {"a": [1, 0.5]})
    with pytest.raises(ValueError, match="folder .*deep.* does not exist"):
        plots.save(fig, tmp_path / "deep" / "er" / "e.png")
    assert not (tmp_path / "deep").exists()
