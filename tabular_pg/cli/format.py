"""Text and Markdown tables and JSON output of the ``tabular-pg`` command (internal; the
lowest module of :mod:`tabular_pg.cli`: it imports no other)."""
from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np

__all__ = ["jsonable", "emit_json", "table", "markdown_table", "num"]


def jsonable(x):
    """``x`` with numpy arrays and scalars, tuples and dataclasses turned into JSON types.

    Examples
    --------
    >>> jsonable({"V": np.array([1.0, 2.0]), "n": np.int64(3), "t": (np.float64(0.5),)})
    {'V': [1.0, 2.0], 'n': 3, 't': [0.5]}
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return jsonable(dataclasses.asdict(x))
    return x


def emit_json(data) -> None:
    """Print ``data`` as one JSON document on stdout."""
    json.dump(jsonable(data), sys.stdout)
    sys.stdout.write("\n")


def num(x, digits: int = 6) -> str:
    """A number in ``digits`` significant figures (``-`` for None).

    Examples
    --------
    >>> num(1 / 3), num(2.0), num(None), num(1e-20)
    ('0.333333', '2', '-', '1e-20')
    """
    if x is None:
        return "-"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return f"{float(x):.{digits}g}"


def table(headers, rows) -> str:
    """Rows of cells (numbers formatted with :func:`num`) aligned under ``headers``.

    Examples
    --------
    >>> print(table(["s", "V"], [["0", 1.5], ["goal", 0.0]]))
    s       V
    ----  ---
    0     1.5
    goal    0
    """
    cells = [[c if isinstance(c, str) else num(c) for c in row] for row in rows]
    left = [all(isinstance(row[i], str) for row in rows) for i in range(len(headers))]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(headers)]

    def line(row):
        return "  ".join(c.ljust(w) if lj else c.rjust(w) for c, w, lj in zip(row, widths, left)).rstrip()

    return "\n".join([line([str(h) for h in headers]), line(["-" * w for w in widths])] + [line(r) for r in cells])


def markdown_table(headers, rows) -> str:
    """A Markdown table (numbers formatted with :func:`num`); ``|`` inside a cell (as in
    ``|grad J|``) is escaped.

    Examples
    --------
    >>> print(markdown_table(["x", "|g|"], [["a", 0.5]]))
    | x | \\|g\\| |
    |---|---|
    | a | 0.5 |
    """
    cells = [[(c if isinstance(c, str) else num(c)).replace("|", "\\|") for c in row]
             for row in [headers, *rows]]
    return "\n".join(["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(headers)]
                     + ["| " + " | ".join(r) + " |" for r in cells[1:]])
