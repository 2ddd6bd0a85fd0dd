"""Figures of exact and sampled quantities (the ``plot`` extra: matplotlib, Agg canvas).

Every function draws on the Axes ``ax`` it is given (or on a new
:class:`matplotlib.figure.Figure`: no pyplot state, no backend switch) and returns the
Figure; :func:`save` writes it (``save(learning_curves(curves), "lc.png")``), atomically.

* :func:`learning_curves` — exact J per iteration, several seeds as a mean and a band;
* :func:`estimator_errors` — estimator error and variance against the sample size n;
* :func:`variance_vs_horizon` — variance against H on log-log axes with the fitted slope;
* :func:`grid_values` — a heatmap of V on a gridworld with arrows of pi;
* :func:`value_polytope` — the value polytope of a two-state MDP (Dadashi et al., 2019)
  with the path of any sequence of policies drawn on it.

Curves that may coincide get distinct markers, line styles and staggered marker
positions, so that a curve drawn under another stays visible.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tabular_pg.exact.batch import evaluate_batch
from tabular_pg.io.output import write_atomically
from tabular_pg.mdp import FiniteMDP

__all__ = ["learning_curves", "estimator_errors", "variance_vs_horizon", "grid_values",
           "value_polytope", "slope", "save", "greedy_ties", "MARKERS", "LINESTYLES"]

#: Unit arrows of the gridworld actions 0..3 = up, right, down, left, as (d col, d row):
#: rows grow downwards on the heatmap, so "up" is d row = -1.
ARROWS = np.array([[0.0, -1.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
#: Marker and line style of the i-th curve (cycled): curves that coincide stay distinguishable.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
LINESTYLES = ("-", "--", "-.", ":")


def _figure(ax=None, ncols: int = 1, size=(6.0, 4.2)):
    """``(figure, axes, own)``: a new figure with ``ncols`` axes, or the one(s) given."""
    if ax is not None:
        axes = list(ax) if np.iterable(ax) else [ax]
        if len(axes) != ncols:
            raise ValueError(f"ax must be {ncols} matplotlib Axes; got {len(axes)}")
        return axes[0].figure, axes, False
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("figures need the plot extra: pip install matplotlib") from None
    fig = Figure(figsize=(size[0] * ncols, size[1]), layout="constrained")
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0]), True


def save(fig, path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` and return the path written.

    A path without a suffix gets ``.png``; other suffixes name the format (``.svg``,
    ``.pdf``...).  The file is written under a temporary name in the same folder and then
    renamed (:func:`tabular_pg.io.output.write_atomically`), so an interrupted save never
    leaves a truncated file; the folder must exist (it is not created).
    """
    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    return write_atomically(path, lambda f: fig.savefig(f, dpi=dpi, format=path.suffix[1:].lower()), mode="wb")


def _log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Log scales with ticks at 1, 2, 5 x 10^k written as plain numbers (no minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    for axis, on, scale in ((ax.xaxis, x, ax.set_xscale), (ax.yaxis, y, ax.set_yscale)):
        if on:
            scale("log")
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())


def _style(i: int, n_points: int, n_curves: int) -> dict:
    """Line style of curve ``i``: its marker, dashes, and markers staggered along x."""
    every = max(1, n_points // 8)
    return {"marker": MARKERS[i % len(MARKERS)], "linestyle": LINESTYLES[i % len(LINESTYLES)],
            "markevery": (i * every // max(n_curves, 1) % every, every), "markersize": 5}


def _band(ax, x, Y, label, **style):
    """Mean of the rows of ``Y (n_seeds, T)`` with a band from the lowest to the highest seed."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    line, = ax.plot(x, Y.mean(axis=0), label=label if Y.shape[0] == 1 else f"{label} (mean of {Y.shape[0]} seeds)",
                    **style)
    if Y.shape[0] > 1:
        ax.fill_between(x, Y.min(axis=0), Y.max(axis=0), color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def learning_curves(curves: dict, J_star: float | None = None, title: str = "learning curves",
                    log_gap: bool = False, ax=None):
    """Exact J of every iterate: ``curves`` maps a label to ``(T,)`` or ``(n_seeds, T)``.

    With ``log_gap`` the y axis is the sub-optimality ``J* - J`` on a log scale (needs
    ``J_star``).  Exact and sampled oracles are compared by giving both as labels.  Each
    curve has its own marker and dashes, markers staggered, so that curves that coincide
    (e.g. several algorithms at J*) all stay visible.  Returns the Figure.
    """
    if log_gap and J_star is None:
        raise ValueError("log_gap=True needs J_star")
    fig, (ax,), own = _figure(ax, size=(8.6, 4.4))
    for i, (label, Y) in enumerate(curves.items()):
        Y = np.atleast_2d(np.asarray(Y, dtype=float))
        _band(ax, np.arange(Y.shape[1]), np.maximum(J_star - Y, 1e-16) if log_gap else Y, label,
              **_style(i, Y.shape[1], len(curves)))
    if J_star is not None and not log_gap:
        ax.axhline(J_star, color="k", linestyle="--", linewidth=1, label="J* (exact optimum)")
    if log_gap:
        _log_axes(ax, x=False)
    ax.set(xlabel="iteration", ylabel="J* - J(pi_t)" if log_gap else "exact J(pi_t)")
    ax.set_title(title, fontsize="medium")
    legend = dict(fontsize="small", title="markers staggered: coinciding curves stay visible",
                  title_fontsize="x-small")
    if own:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right center", **legend)
    else:
        ax.legend(**legend)
    return fig


def _coincides(label: str, seen: dict, values: np.ndarray) -> str:
    """`` (= other)`` when ``values`` equal those of an earlier label to 1e-9 relative."""
    same = [k for k, v in seen.items() if v.shape == values.shape and np.allclose(v, values, rtol=1e-9, atol=0)]
    return f" (= {same[0]})" if same else ""


def estimator_errors(n_values, errors: dict, variances: dict, exact_errors: dict | None = None,
                     title: str = "estimators vs exact", ax=None):
    """Left: error of the mean of ``n`` estimates against n (markers: ``errors``, sampled;
    dashed: ``exact_errors``); right: the variance ``tr Cov / n``; log-log axes.

    Each dict maps an estimator's label to ``(len(n),)``; ``ax`` is a pair of Axes.  Each
    estimator has its own hollow marker, the larger ones drawn first, so that estimators
    whose curves coincide all stay visible; the legend names them ``(= other)``.
    Returns the Figure.
    """
    fig, (left, right), own = _figure(ax, 2, size=(6.0, 5.0))
    n = np.asarray(n_values, dtype=float)
    seen: dict[str, np.ndarray] = {}
    for i, (label, err) in enumerate(errors.items()):
        err = np.asarray(err, dtype=float)
        both = np.r_[err, np.asarray(variances.get(label, []), dtype=float)]
        same = _coincides(label, seen, both)
        seen[label] = both
        style = dict(marker=MARKERS[i % len(MARKERS)], markersize=max(4, 12 - 1.2 * i), markerfacecolor="none",
                     linestyle=LINESTYLES[i % len(LINESTYLES)], zorder=2 + i)
        line, = left.plot(n, err, label=f"{label} (sampled){same}", **style)
        if exact_errors and label in exact_errors:
            left.plot(n, exact_errors[label], color=line.get_color(), linewidth=0.8, alpha=0.6, zorder=1)
        if label in variances:
            right.plot(n, variances[label], color=line.get_color(), label=label, **style)
    if exact_errors:
        left.plot([], [], "k-", linewidth=0.8, alpha=0.6, label="thin line: exact sqrt(tr Cov/n + |bias|^2)")
    for a, ylabel in ((left, "RMSE of the mean of n estimates"), (right, "exact variance tr Cov / n")):
        _log_axes(a)
        a.set(xlabel="trajectories n", ylabel=ylabel)
    if own:
        fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="small")
        fig.suptitle(title)
    else:
        left.legend(fontsize="x-small")
        left.set_title(title, fontsize="medium")
    return fig


def slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``.

    Examples
    --------
    >>> round(slope([1, 2, 4, 8], [3, 12, 48, 192]), 12)
    2.0
    """
    return float(np.polyfit(np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float)), 1)[0])


def variance_vs_horizon(H_values, variances: dict, title: str = "variance vs horizon", ax=None):
    """Variance against H on log-log axes (markers: the values given), each label with its
    fitted power ``c H^slope`` (thin line).  Returns the Figure."""
    fig, (ax,), _ = _figure(ax)
    H = np.asarray(H_values, dtype=float)
    for i, (label, v) in enumerate(variances.items()):
        v = np.asarray(v, dtype=float)
        k = slope(H, v)
        line, = ax.plot(H, v, MARKERS[i % len(MARKERS)], markerfacecolor="none", label=f"{label}: slope {k:.2f}")
        c = np.exp(np.mean(np.log(v) - k * np.log(H)))
        ax.plot(H, c * H ** k, "-", color=line.get_color(), linewidth=1)
    _log_axes(ax)
    ax.set_xticks(H, [f"{h:g}" for h in H])           # every horizon computed (often less than a decade)
    ax.set(xlabel="horizon H", ylabel="variance", title=title)
    ax.legend(fontsize="small", title="markers: exact values; lines: fitted c H^k", title_fontsize="x-small")
    return fig


def greedy_ties(Q, rtol: float = 1e-9) -> np.ndarray:
    """The uniform policy over the maximisers of each row of ``Q (S, A)``, ties within
    ``rtol`` of the row's scale included (every optimal action when ``Q = Q*``).

    Examples
    --------
    >>> greedy_ties([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]]).tolist()
    [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]
    """
    Q = np.asarray(Q, dtype=float)
    best = Q.max(axis=1, keepdims=True)
    tied = Q >= best - rtol * np.maximum(np.abs(Q).max(axis=1, keepdims=True), 1.0)
    return tied / tied.sum(axis=1, keepdims=True)


def grid_values(V, cells, pi=None, shape=None, terminal=(), title: str = "V and pi", ax=None):
    """Heatmap of ``V (S,)`` on the grid cells ``cells (S, 2)`` (row, col); walls blank.

    ``pi (S, 4)`` draws an arrow for every action (up, right, down, left) of positive
    probability, of length proportional to its probability relative to the most likely
    action (so tied actions get equal arrows), except in the ``terminal`` states.  Rows and
    columns are numbered; each cell shows its value.  Returns the Figure.
    """
    V, cells = np.asarray(V, dtype=float), np.asarray(cells, dtype=int)
    rows, cols = shape or tuple(cells.max(axis=0) + 1)
    grid = np.full((rows, cols), np.nan)
    grid[cells[:, 0], cells[:, 1]] = V
    fig, (ax,), _ = _figure(ax, size=(1.1 * cols + 2, 1.1 * rows + 1.2))
    image = ax.imshow(grid, cmap="viridis")
    fig.colorbar(image, ax=ax, label="V(s)")
    for (r, c), v in zip(cells, V):
        ax.text(c, r + 0.32, f"{v:.2f}", ha="center", va="center", fontsize=8, color="w")
    note = "numbers: V(s)"
    if pi is not None:
        pi = np.array(pi, dtype=float)
        pi[np.asarray(terminal, dtype=int)] = 0.0
        length = pi / np.maximum(pi.max(axis=1, keepdims=True), 1e-300)
        for a, (dx, dy) in enumerate(ARROWS[:pi.shape[1]]):
            on = pi[:, a] > 0
            ax.quiver(cells[on, 1] + 0.1 * dx, cells[on, 0] - 0.08 + 0.1 * dy, dx * length[on, a], dy * length[on, a],
                      angles="xy", scale_units="xy", scale=3.2, color="w", width=0.006)
        note += "; arrows: actions of pi (several arrows: tied actions)"
    ax.set(xticks=range(cols), yticks=range(rows), xlabel="column", ylabel="row")
    ax.set_title(f"{title}\n{note}", fontsize="medium")
    return fig


def _random_policies(n: int, S: int, A: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` policies ``(n, S, A)``: rows uniform on the simplex, plus all deterministic ones."""
    corners = np.eye(A)[np.stack(np.meshgrid(*[np.arange(A)] * S, indexing="ij"), -1).reshape(-1, S)]
    return np.concatenate([rng.dirichlet(np.ones(A), size=(n, S)), corners])


def _paths(ax, mdp: FiniteMDP, paths: dict) -> None:
    """Each path as a line of its iterates; its last iterate a hollow marker of its own
    shape, the sizes decreasing so that paths ending at the same point all show."""
    ends: dict[str, np.ndarray] = {}
    for i, (label, seq) in enumerate(paths.items()):
        W = evaluate_batch(mdp, np.asarray(seq)).V
        line, = ax.plot(W[:, 0], W[:, 1], ".-", markersize=3, linewidth=1.2, label=f"{label}: iterates")
        same = [k for k, w in ends.items() if np.allclose(w, W[-1], rtol=1e-6, atol=1e-9)]
        ax.plot(W[-1, 0], W[-1, 1], MARKERS[(i + 1) % len(MARKERS)], color=line.get_color(), markerfacecolor="none",
                markersize=16 - 3 * i, markeredgewidth=1.6,
                label=f"{label}: last iterate" + (f" (same point as {same[0]})" if same else ""))
        ends[label] = W[-1]
        if i == 0:
            ax.plot(W[0, 0], W[0, 1], "x", color="k", markersize=9, label="start of every path", zorder=5)


def value_polytope(mdp: FiniteMDP, paths: dict | None = None, n_policies: int = 3000,
                   rng: np.random.Generator | None = None, title: str = "value polytope", ax=None):
    """The set ``{V^pi}`` of a two-state MDP, sampled by evaluating random policies, with
    the value path of each sequence of policies in ``paths`` (label -> ``[(2, A), ...]``).
    Returns the Figure.

    Notes
    -----
    Dadashi, Taïga, Le Roux, Schuurmans, Bellemare, "The Value Function Polytope in
    Reinforcement Learning", ICML 2019: the image of the policy simplex under
    :math:`\\pi \\mapsto V^\\pi = (I-\\gamma P_\\pi)^{-1} r_\\pi` is a possibly non-convex
    polytope whose vertices include the deterministic policies (black squares).
    """
    if not isinstance(mdp, FiniteMDP) or mdp.n_states != 2 or mdp.horizon is not None:
        raise ValueError("value_polytope needs an infinite-horizon FiniteMDP with 2 states")
    rng = np.random.default_rng(0) if rng is None else rng
    V = evaluate_batch(mdp, _random_policies(n_policies, 2, mdp.n_actions, rng)).V
    fig, (ax,), _ = _figure(ax, size=(6.0, 5.4))
    corners = mdp.n_actions ** 2
    ax.scatter(V[:-corners, 0], V[:-corners, 1], s=3, color="0.75", label=f"V^pi of {n_policies} random policies")
    ax.scatter(V[-corners:, 0], V[-corners:, 1], s=30, color="k", marker="s", label="deterministic policies")
    _paths(ax, mdp, paths or {})
    ax.set(xlabel="V(s0)", ylabel="V(s1)", title=title)
    ax.legend(fontsize="x-small", loc="upper left")
    return fig
