"""Figures of exact and sampled quantities (the ``plot`` extra: matplotlib, Agg canvas).

Every function draws on its own :class:`matplotlib.figure.Figure` (no pyplot state, no
backend switch) and writes a PNG to ``path``, returning the path.

* :func:`learning_curves` — exact J per iteration, several seeds as a mean and a band;
* :func:`estimator_errors` — estimator error and variance against the sample size n;
* :func:`variance_vs_horizon` — variance against H on log-log axes with the fitted slope;
* :func:`grid_values` — a heatmap of V on a gridworld with arrows of pi;
* :func:`value_polytope` — the value polytope of a two-state MDP (Dadashi et al., 2019)
  with the path of any sequence of policies drawn on it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tabular_pg.exact.batch import evaluate_batch
from tabular_pg.io.output import write_atomically
from tabular_pg.mdp import FiniteMDP

__all__ = ["learning_curves", "estimator_errors", "variance_vs_horizon", "grid_values",
           "value_polytope", "slope"]

#: Unit arrows of the gridworld actions 0..3 = up, right, down, left, as (d col, d row):
#: rows grow downwards on the heatmap, so "up" is d row = -1.
ARROWS = np.array([[0.0, -1.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])


def _figure(ncols: int = 1, size=(6.0, 4.2)):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("figures need the plot extra: pip install matplotlib") from None
    fig = Figure(figsize=(size[0] * ncols, size[1]), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _save(fig, path) -> Path:
    """Write ``fig`` to exactly ``path`` (PNG unless its suffix names another format), through a
    temporary file and a rename: an interrupted save leaves no truncated image.  Its folder
    must exist (it is not created)."""
    fmt = Path(path).suffix[1:].lower() or "png"
    return write_atomically(path, lambda f: fig.savefig(f, dpi=110, format=fmt), mode="wb")


def _band(ax, x, Y, label, color=None):
    """Mean of the rows of ``Y (n_seeds, T)`` with a band from the lowest to the highest seed."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    line, = ax.plot(x, Y.mean(axis=0), label=label if Y.shape[0] == 1 else f"{label} ({Y.shape[0]} seeds)",
                    color=color)
    if Y.shape[0] > 1:
        ax.fill_between(x, Y.min(axis=0), Y.max(axis=0), color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def learning_curves(curves: dict, path, J_star: float | None = None, title: str = "learning curves",
                    log_gap: bool = False):
    """Exact J of every iterate: ``curves`` maps a label to ``(T,)`` or ``(n_seeds, T)``.

    With ``log_gap`` the y axis is the sub-optimality ``J* - J`` on a log scale (needs
    ``J_star``).  Exact and sampled oracles are compared by giving both as labels.
    """
    fig, (ax,) = _figure(size=(8.6, 4.4))
    for label, Y in curves.items():
        Y = np.atleast_2d(np.asarray(Y, dtype=float))
        x = np.arange(Y.shape[1])
        _band(ax, x, np.maximum(J_star - Y, 1e-16) if log_gap else Y, label)
    if J_star is not None and not log_gap:
        ax.axhline(J_star, color="k", linestyle="--", linewidth=1, label="J* (exact optimum)")
    if log_gap:
        ax.set_yscale("log")
    ax.set(xlabel="iteration", ylabel="J* - J(pi_t)" if log_gap else "exact J(pi_t)")
    fig.suptitle(title, fontsize="medium")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right center", fontsize="small")
    return _save(fig, path)


def estimator_errors(n_values, errors: dict, variances: dict, path, exact_errors: dict | None = None,
                     title: str = "estimators vs exact"):
    """Left: error of the mean of ``n`` estimates against n (markers: ``errors``, sampled;
    dashed: ``exact_errors``); right: the variance ``tr Cov / n``; log-log axes.  Each dict
    maps an estimator's label to ``(len(n),)``."""
    fig, (left, right) = _figure(2, size=(6.0, 5.0))
    n = np.asarray(n_values, dtype=float)
    for label, err in errors.items():
        line, = left.plot(n, err, "o-", label=f"{label} (sampled)")
        if exact_errors and label in exact_errors:
            left.plot(n, exact_errors[label], "--", color=line.get_color(), linewidth=1)
        if label in variances:
            right.plot(n, variances[label], "o-", color=line.get_color(), label=label)
    if exact_errors:
        left.plot([], [], "k--", linewidth=1, label="exact sqrt(tr Cov/n + |bias|^2)")
    for ax, ylabel in ((left, "RMSE of the mean of n estimates"), (right, "exact variance tr Cov / n")):
        ax.set(xscale="log", yscale="log", xlabel="trajectories n", ylabel=ylabel)
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize="small")
    fig.suptitle(title)
    return _save(fig, path)


def slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``.

    Examples
    --------
    >>> round(slope([1, 2, 4, 8], [3, 12, 48, 192]), 12)
    2.0
    """
    return float(np.polyfit(np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float)), 1)[0])


def variance_vs_horizon(H_values, variances: dict, path, title: str = "variance vs horizon"):
    """Variance against H on log-log axes, each label with its fitted power ``H^slope``."""
    fig, (ax,) = _figure()
    H = np.asarray(H_values, dtype=float)
    for label, v in variances.items():
        v = np.asarray(v, dtype=float)
        k = slope(H, v)
        line, = ax.plot(H, v, "o", label=f"{label}: slope {k:.2f}")
        c = np.exp(np.mean(np.log(v) - k * np.log(H)))
        ax.plot(H, c * H ** k, "-", color=line.get_color(), linewidth=1)
    ax.set(xscale="log", yscale="log", xlabel="horizon H", ylabel="variance", title=title)
    ax.legend(fontsize="small")
    return _save(fig, path)


def grid_values(V, cells, path, pi=None, shape=None, terminal=(), title: str = "V and pi"):
    """Heatmap of ``V (S,)`` on the grid cells ``cells (S, 2)`` (row, col); walls blank.

    ``pi (S, 4)`` draws one arrow per action (up, right, down, left) of length
    proportional to its probability, except in the ``terminal`` states.
    """
    V, cells = np.asarray(V, dtype=float), np.asarray(cells, dtype=int)
    rows, cols = shape or tuple(cells.max(axis=0) + 1)
    grid = np.full((rows, cols), np.nan)
    grid[cells[:, 0], cells[:, 1]] = V
    fig, (ax,) = _figure(size=(1.1 * cols + 2, 1.1 * rows + 0.8))
    image = ax.imshow(grid, cmap="viridis")
    fig.colorbar(image, ax=ax, label="V(s)")
    for (r, c), v in zip(cells, V):
        ax.text(c, r + 0.32, f"{v:.2f}", ha="center", va="center", fontsize=8, color="w")
    if pi is not None:
        pi = np.array(pi, dtype=float)
        pi[np.asarray(terminal, dtype=int)] = 0.0
        for a, (dx, dy) in enumerate(ARROWS[:pi.shape[1]]):
            on = pi[:, a] > 0
            ax.quiver(cells[on, 1], cells[on, 0] - 0.08, dx * pi[on, a], dy * pi[on, a], angles="xy",
                      scale_units="xy", scale=2.6, color="w", width=0.006)
    ax.set(xticks=range(cols), yticks=range(rows), title=title)
    return _save(fig, path)


def _random_policies(n: int, S: int, A: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` policies ``(n, S, A)``: rows uniform on the simplex, plus all deterministic ones."""
    corners = np.eye(A)[np.stack(np.meshgrid(*[np.arange(A)] * S, indexing="ij"), -1).reshape(-1, S)]
    return np.concatenate([rng.dirichlet(np.ones(A), size=(n, S)), corners])


def value_polytope(mdp: FiniteMDP, path, paths: dict | None = None, n_policies: int = 3000,
                   rng: np.random.Generator | None = None, title: str = "value polytope"):
    """The set ``{V^pi}`` of a two-state MDP, sampled by evaluating random policies, with
    the value path of each sequence of policies in ``paths`` (label -> ``[(2, A), ...]``).

    Notes
    -----
    Dadashi, Taïga, Le Roux, Schuurmans, Bellemare, "The Value Function Polytope in
    Reinforcement Learning", ICML 2019: the image of the policy simplex under
    :math:`\\pi \\mapsto V^\\pi = (I-\\gamma P_\\pi)^{-1} r_\\pi` is a possibly non-convex
    polytope whose vertices include the deterministic policies (marked).
    """
    if not isinstance(mdp, FiniteMDP) or mdp.n_states != 2 or mdp.horizon is not None:
        raise ValueError("value_polytope needs an infinite-horizon FiniteMDP with 2 states")
    rng = np.random.default_rng(0) if rng is None else rng
    V = evaluate_batch(mdp, _random_policies(n_policies, 2, mdp.n_actions, rng)).V
    fig, (ax,) = _figure(size=(6.0, 5.4))
    ax.scatter(V[:-mdp.n_actions ** 2, 0], V[:-mdp.n_actions ** 2, 1], s=3, color="0.75",
               label=f"V^pi of {n_policies} random policies")
    ax.scatter(V[-mdp.n_actions ** 2:, 0], V[-mdp.n_actions ** 2:, 1], s=30, color="k", marker="s",
               label="deterministic policies")
    for label, seq in (paths or {}).items():
        W = evaluate_batch(mdp, np.asarray(seq)).V
        line, = ax.plot(W[:, 0], W[:, 1], ".-", markersize=3, linewidth=1.2, label=label)
        ax.plot(W[-1, 0], W[-1, 1], "*", color=line.get_color(), markersize=11)
    ax.set(xlabel="V(s0)", ylabel="V(s1)", title=title)
    ax.legend(fontsize="small")
    return _save(fig, path)
