"""Figures a new user can compose and read (issues 16 and 20): ``ax=`` and a returned Figure,
an atomic :func:`save`, curves that stay visible when they coincide, readable log ticks,
every tied optimal action of the gridworld; and ``History.to_frame``."""
import sys

import numpy as np
import pytest

import mdps
import tabular_pg as tpg
from mdps.gridworld import SUTTON_BARTO_LAYOUT
from tabular_pg.cli import plots
from tabular_pg.cli.specs import dadashi_mdp

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

N = np.array([10, 30, 100])


def drawings():
    """Each plot function with small inputs, as ``name -> (call(ax), number of axes)``."""
    seq = [np.full((2, 2), 0.5), np.array([[0.9, 0.1], [0.2, 0.8]])]
    return {
        "learning_curves": (lambda ax: plots.learning_curves({"a": np.linspace(0, 1, 20)}, J_star=1.0, ax=ax), 1),
        "estimator_errors": (lambda ax: plots.estimator_errors(N, {"a": 1 / np.sqrt(N)}, {"a": 1 / N}, ax=ax), 2),
        "variance_vs_horizon": (lambda ax: plots.variance_vs_horizon([2, 4, 8], {"a": [1.0, 8.0, 64.0]}, ax=ax), 1),
        "grid_values": (lambda ax: plots.grid_values([1.0, 2.0], [[0, 0], [0, 1]], pi=np.eye(4)[[1, 3]], ax=ax), 1),
        "value_polytope": (lambda ax: plots.value_polytope(dadashi_mdp(), paths={"p": seq}, n_policies=50, ax=ax), 1),
    }


@pytest.mark.parametrize("name", list(drawings()))
def test_plots_draw_on_the_given_axes_and_return_the_figure(name):
    draw, k = drawings()[name]
    own = draw(None)
    assert isinstance(own, Figure) and own.axes
    host = Figure()
    axes = host.subplots(1, k, squeeze=False)[0]
    got = draw(axes[0] if k == 1 else axes)
    assert got is host
    assert all(ax.lines or ax.images or ax.collections for ax in axes)


def test_two_panel_plot_refuses_one_axes():
    with pytest.raises(ValueError, match="2 matplotlib Axes"):
        plots.estimator_errors(N, {"a": 1 / N}, {"a": 1 / N}, ax=Figure().subplots())


def test_save_adds_png_and_leaves_no_partial_file(tmp_path, monkeypatch):
    fig = plots.learning_curves({"a": [0.0, 1.0]})
    assert plots.save(fig, tmp_path / "curve") == tmp_path / "curve.png"
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    before = (tmp_path / "curve.png").read_bytes()

    def interrupted(target, **kwargs):           # savefig is given a path or an open file
        (target if hasattr(target, "write") else open(target, "wb")).write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(fig, "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plots.save(fig, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes() == before                  # the old file, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]        # and no temporary file


def test_coinciding_estimators_are_all_visible_and_named():
    same = 1 / np.sqrt(N)
    fig = plots.estimator_errors(N, {"V": same, "optimal": same.copy(), "other": 2 * same},
                                 {"V": 1 / N, "optimal": 1 / N, "other": 4 / N})
    left = fig.axes[0]
    lines = [line for line in left.lines if line.get_label().endswith(("(sampled)", "V baseline)", "(= V)"))]
    labels = [line.get_label() for line in lines]
    assert labels == ["V (sampled)", "optimal (sampled) (= V)", "other (sampled)"]
    markers = [(line.get_marker(), line.get_linestyle(), line.get_markersize()) for line in lines]
    assert len(set(markers)) == 3 and lines[0].get_markersize() > lines[1].get_markersize()
    assert all(line.get_markerfacecolor() == "none" for line in lines)          # hollow: the one below shows


def test_coinciding_learning_curves_have_distinct_styles_and_staggered_markers():
    flat = np.ones(40)
    fig = plots.learning_curves({name: flat for name in ("pg", "npg", "cpi", "ppo", "cem")}, J_star=1.0)
    lines = [line for line in fig.axes[0].lines if not line.get_label().startswith("J*")]
    styles = {(line.get_marker(), line.get_linestyle()) for line in lines}
    starts = {line.get_markevery()[0] for line in lines}
    assert len(styles) == 5 and len(starts) == 5


def test_log_axes_have_plain_tick_labels():
    fig = plots.variance_vs_horizon([2, 3, 4, 6, 8], {"a": [4.0, 9.0, 16.0, 36.0, 64.0]})
    ax = fig.axes[0]
    formatter = ax.yaxis.get_major_formatter()
    assert formatter(2.0, 0) == "2" and formatter(50.0, 0) == "50" and formatter(0.005, 0) == "0.005"
    assert ax.yaxis.get_minor_formatter()(3.0, 0) == ""                      # no 3x10^0 minor labels
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "3", "4", "6", "8"]   # each horizon, plainly


def test_polytope_end_markers_differ_and_say_when_paths_end_together():
    end = np.array([[1.0, 0.0], [1.0, 0.0]])
    seq = [np.full((2, 2), 0.5), end]
    fig = plots.value_polytope(dadashi_mdp(), paths={"a": seq, "b": seq}, n_policies=20)
    ends = [line for line in fig.axes[0].lines if "last iterate" in line.get_label()]
    assert [line.get_label() for line in ends] == ["a: last iterate", "b: last iterate (same point as a)"]
    assert ends[0].get_markersize() > ends[1].get_markersize() and ends[0].get_marker() != ends[1].get_marker()
    assert any(line.get_label() == "start of every path" for line in fig.axes[0].lines)


def value_iteration_Q(mdp, sweeps=2000):
    """Q* of a dense stationary MDP by plain value iteration (independent of tabular_pg.optimum)."""
    P, R = np.asarray(mdp.P), np.asarray(mdp.R)
    r = (P * R).sum(axis=2) if R.ndim == 3 else R
    V = np.zeros(mdp.n_states)
    for _ in range(sweeps):
        Q = r + mdp.gamma * P @ V
        V = Q.max(axis=1)
    return Q


def test_gridworld_draws_every_tied_optimal_action_and_labels_rows_and_columns():
    mdp = mdps.sutton_barto_grid()
    Q = value_iteration_Q(mdp)                                 # 0.9^2000: converged to machine precision
    tied = np.isclose(Q, Q.max(axis=1, keepdims=True), rtol=0, atol=1e-9)
    assert (tied.sum(axis=1) > 1).any()                        # Sutton & Barto's pi* has ties (Figure 3.5)
    pi = plots.greedy_ties(tpg.optimum(mdp).Q)
    assert np.array_equal(pi > 0, tied)
    fig = plots.grid_values(tpg.optimum(mdp).V, mdps.grid_cells(SUTTON_BARTO_LAYOUT), pi=pi)
    ax = fig.axes[0]
    arrows = sum(len(c.get_offsets()) for c in ax.collections if c.__class__.__name__ == "Quiver")
    assert arrows == tied.sum()
    assert ax.get_xlabel() == "column" and ax.get_ylabel() == "row" and "arrows" in ax.get_title()


# ----------------------------------------------------------------------- History.to_frame
def test_history_to_frame():
    pd = pytest.importorskip("pandas")
    mdp = mdps.from_spec("garnet:S=5,A=2,b=2,seed=0,gamma=0.8")
    policy = tpg.TabularSoftmax(5, 2)
    hist = tpg.run(tpg.PolicyGradient(), mdp, policy, policy.initial(), tpg.ExactOracle(mdp), iterations=4)
    frame = hist.to_frame()
    assert isinstance(frame, pd.DataFrame) and frame.index.name == "t" and list(frame.index) == list(range(5))
    assert list(frame.columns) == ["J", "trajectories", "steps", "wall_time"]
    np.testing.assert_array_equal(frame["J"].to_numpy(), hist.J)
    assert frame.attrs["algorithm"] == hist.algorithm
    assert frame["J"].iloc[0] == pytest.approx(tpg.evaluate(mdp, np.full((5, 2), 0.5)).J, rel=1e-12)


def test_history_to_frame_without_pandas_names_the_extra(monkeypatch):
    hist = tpg.History("PG()", np.zeros(2), np.zeros((2, 1)), np.ones((2, 1, 1)), np.zeros(2, dtype=int),
                       np.zeros(2, dtype=int), np.zeros(2))
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"tabular-pg\[frame\]"):
        hist.to_frame()
