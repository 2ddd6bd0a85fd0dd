"""Gridworlds from a text layout, and the textbook grids of Sutton & Barto and Russell & Norvig."""
from __future__ import annotations

import numpy as np

from mdps._build import assemble, finite_real, probability

__all__ = ["gridworld", "grid_cells", "sutton_barto_grid", "russell_norvig_grid", "MOVES"]

#: Row/column offsets of the actions up, right, down, left (action indices 0..3).
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])
WALL, START, OPEN = "#", "S", "."


def _grid(layout) -> np.ndarray:
    if isinstance(layout, str) or not isinstance(layout, (list, tuple)) or not len(layout):
        raise ValueError("layout must be a non-empty list of equal-length strings")
    rows = [str(r) for r in layout]
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        raise ValueError(f"layout rows must be non-empty and of equal length; got lengths {[len(r) for r in rows]}")
    return np.array([list(r) for r in rows])


def grid_cells(layout) -> np.ndarray:
    """``(row, col)`` of every state, shape ``(S, 2)``: the non-wall cells in row-major order.

    Examples
    --------
    >>> grid_cells([".#", ".."]).tolist()
    [[0, 0], [1, 0], [1, 1]]
    """
    return np.argwhere(_grid(layout) != WALL)


def _labels(grid, terminals: dict, teleports: dict) -> None:
    known = {WALL, START, OPEN} | set(terminals) | set(teleports) | {t for t, _ in teleports.values()}
    unknown = sorted(set(grid.ravel()) - known)
    if unknown:
        raise ValueError(f"layout has cells {unknown} that are neither '#', 'S', '.', "
                         f"a terminal, a teleport nor a teleport target")
    for name, labels in (("terminals", terminals), ("teleports", teleports)):
        absent = sorted(set(labels) - set(grid.ravel()))
        if absent:
            raise ValueError(f"{name} {absent} do not appear in layout (its cells: {sorted(set(grid.ravel()))})")
    for src, (dst, _) in teleports.items():
        if (grid == dst).sum() != 1:
            raise ValueError(f"teleports[{src!r}] target {dst!r} must appear exactly once in layout; "
                             f"found {(grid == dst).sum()}")


def _outcomes(grid, index, cells, slip: float):
    """Next cell, probability and 'blocked by the edge' of the 3 outcomes of each (s, a)."""
    n_rows, n_cols = grid.shape
    A = len(MOVES)
    a = np.arange(A)
    dirs = np.stack([a, (a + 1) % A, (a + 3) % A], axis=-1)            # intended, perpendiculars
    probs = np.array([1.0 - slip, slip / 2, slip / 2])
    target = cells[:, None, None, :] + MOVES[dirs][None]                 # (S, A, 3, 2)
    off = ((target < 0) | (target >= [n_rows, n_cols])).any(axis=-1)
    target = np.where(off[..., None], cells[:, None, None, :], target)
    nxt = index[target[..., 0], target[..., 1]]
    wall = nxt < 0
    nxt = np.where(wall, np.arange(len(cells))[:, None, None], nxt)
    return nxt, np.broadcast_to(probs, nxt.shape).copy(), off


def _go_surely(nxt, prob, reward, rows, target, r) -> None:
    """Make every action of the states ``rows`` lead to ``target`` with probability 1 and reward ``r``."""
    nxt[rows], prob[rows], reward[rows] = target, [1.0, 0.0, 0.0], r


def gridworld(layout, terminals=None, teleports=None, step_reward: float = 0.0,
              off_grid_reward: float = 0.0, slip: float = 0.0, gamma: float = 0.9,
              horizon: int | None = None, sparse=None):
    """A gridworld MDP built from a text layout.

    Parameters
    ----------
    layout : list of str
        Equal-length rows; ``'#'`` wall, ``'.'`` open cell, ``'S'`` start cell, any other
        character a label used by ``terminals`` or ``teleports``.  States are the
        non-wall cells in row-major order (see :func:`grid_cells`).
    terminals : dict label -> float, optional
        Terminal cells and the reward collected on *entering* them; a terminal cell is a
        zero-reward absorbing state.
    teleports : dict label -> (target label, float), optional
        From a teleporting cell every action moves to the (unique) target cell with the
        given reward (Sutton & Barto's A -> A').
    step_reward : float
        Reward of every move from a non-terminal, non-teleporting cell.
    off_grid_reward : float
        Extra reward of a move that would leave the grid; the agent stays put.  A move
        into a wall also leaves the agent in place, with only the step reward.
    slip : float in [0, 1]
        Probability of moving perpendicular to the intended direction, split evenly
        between the two perpendiculars (Russell & Norvig: 0.2).
    gamma : float in [0, 1]
    horizon : int or None
    sparse : bool or None
        ``None``: sparse transitions above 1000 states.

    Returns
    -------
    FiniteMDP
        Actions 0..3 = up, right, down, left.  ``mu`` is uniform over the ``'S'`` cells,
        or over all non-wall, non-terminal cells if there is none.  Rewards are kept as
        ``r(s, a, s')``.

    Notes
    -----
    Conventions of Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed.
    (2018), Example 3.5 (teleports, off-grid penalty) and of Russell & Norvig,
    *Artificial Intelligence: A Modern Approach*, 3rd ed. (2010), §17.1 (slip, step
    reward, terminals).  With the terminal reward paid on entering, the return of a
    path through :math:`k` non-terminal states is :math:`k \\cdot` ``step_reward`` plus the
    terminal reward, exactly Russell & Norvig's additive utility.

    Examples
    --------
    >>> mdp = gridworld(["S.G"], terminals={"G": 1.0}, step_reward=-0.1, gamma=1.0)
    >>> mdp.n_states, mdp.terminal_states().tolist()
    (3, [2])
    >>> float(mdp.R[1, 1])                                  # right from the middle: -0.1 + 1
    0.9
    """
    grid = _grid(layout)
    terminals, teleports = dict(terminals or {}), dict(teleports or {})
    _labels(grid, terminals, teleports)
    step_reward = finite_real("step_reward", step_reward)
    off_grid_reward = finite_real("off_grid_reward", off_grid_reward)
    terminals = {k: finite_real(f"terminals[{k!r}]", r) for k, r in terminals.items()}
    teleports = {k: (dst, finite_real(f"teleports[{k!r}] reward", r)) for k, (dst, r) in teleports.items()}
    slip = probability("slip", slip)
    cells = grid_cells(layout)
    S, A = len(cells), len(MOVES)
    index = np.full(grid.shape, -1)
    index[cells[:, 0], cells[:, 1]] = np.arange(S)
    label = grid[cells[:, 0], cells[:, 1]]
    nxt, prob, off = _outcomes(grid, index, cells, slip)
    entry_reward = np.zeros(S)
    for name, r in terminals.items():
        entry_reward[label == name] = r
    reward = step_reward + off_grid_reward * off + entry_reward[nxt]
    for src, (dst, r) in teleports.items():
        _go_surely(nxt, prob, reward, label == src, index[grid == dst][0], r)
    is_terminal = np.isin(label, list(terminals))
    _go_surely(nxt, prob, reward, is_terminal, np.flatnonzero(is_terminal)[:, None, None], 0.0)
    start = label == START
    if not start.any():
        start = ~is_terminal
    if not start.any():
        raise ValueError("layout needs an 'S' cell or a non-terminal cell to start from")
    rows = np.broadcast_to(np.arange(S * A).reshape(S, A, 1), nxt.shape)
    return assemble(rows.ravel(), nxt.ravel(), prob.ravel(), S, A, reward.ravel(),
                    start / start.sum(), gamma, horizon=horizon, sparse=sparse)


#: Sutton & Barto (2018), Example 3.5 / Figure 3.2: A -> A' (+10), B -> B' (+5).
SUTTON_BARTO_LAYOUT = [".A.B.",
                       ".....",
                       "...b.",
                       ".....",
                       ".a..."]

#: Russell & Norvig (2010), Figure 17.1: the 4x3 world, wall at (2, 2), start at (1, 1).
RUSSELL_NORVIG_LAYOUT = ["...+",
                         ".#.-",
                         "S..."]


def sutton_barto_grid(gamma: float = 0.9):
    """Sutton & Barto's 5x5 gridworld (Example 3.5, Figure 3.2), ``gamma = 0.9``.

    Every action in A moves to A' with reward +10, in B to B' with +5; a move off the
    grid leaves the agent in place with reward -1; other moves have reward 0.  Continuing
    task (no terminal state), ``mu`` uniform over the 25 cells.

    Notes
    -----
    Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed. (2018),
    Example 3.5; the equiprobable random policy's values are Figure 3.2 (right) and the
    optimal values Figure 3.5 (middle), both checked in ``tests/test_zoo.py``.

    Examples
    --------
    >>> mdp = sutton_barto_grid()
    >>> float(mdp.R[1].min()), float(mdp.R[0, 0])          # in A: +10 whatever the action
    (10.0, -1.0)
    """
    return gridworld(SUTTON_BARTO_LAYOUT, teleports={"A": ("a", 10.0), "B": ("b", 5.0)},
                     off_grid_reward=-1.0, gamma=gamma)


def russell_norvig_grid(step_reward: float = -0.04, gamma: float = 1.0):
    """Russell & Norvig's 4x3 world: intended move w.p. 0.8, each perpendicular 0.1.

    Terminals +1 (top right) and -1 (below it), wall in the centre-left, start bottom
    left, ``step_reward`` per move from a non-terminal cell.

    Notes
    -----
    Russell & Norvig, *Artificial Intelligence: A Modern Approach*, 3rd ed. (2010),
    §17.1, Figures 17.1-17.3; with ``step_reward = -0.04`` and ``gamma = 1`` the optimal
    utilities of Figure 17.3 (0.812, 0.868, 0.918 on the top row) are checked in
    ``tests/test_zoo.py``.

    Examples
    --------
    >>> mdp = russell_norvig_grid()
    >>> mdp.n_states, mdp.terminal_states().tolist()          # 12 cells minus the wall
    (11, [3, 6])
    """
    return gridworld(RUSSELL_NORVIG_LAYOUT, terminals={"+": 1.0, "-": -1.0},
                     step_reward=step_reward, slip=0.2, gamma=gamma)
