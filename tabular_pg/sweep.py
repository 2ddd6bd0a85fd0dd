"""Run a pure function over a grid of parameters, serially or on a Dask cluster.

A benchmark grid (MDPs x H x n x estimators x seeds) is a list of *grid points*, each a
dict of JSON scalars.  :func:`sweep` calls ``fn(point, rng)`` for every point and returns
a pandas DataFrame with one row per point, in grid order, ``{**point, **fn(point, rng)}``.
Rows can be appended to a checkpoint file as they finish (a rerun skips them), a task
that runs longer than ``timeout`` is retried elsewhere, and the points that never finish
are named.  The generator ``rng``
is seeded from a hash of the point's parameters (:func:`point_seed`), never from the
position in the grid or from the worker, so a row is bit-identical whether it ran
serially, on a local cluster of processes, or on a remote cluster, in any order.

``dask.distributed`` is imported only when a cluster is used; it, ``threadpoolctl`` and
``pandas`` form the optional extra ``sweep`` (Parquet output also needs ``pyarrow``).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from tabular_pg._checks import integer, positive_number
from tabular_pg.io.output import check_output_path, write_atomically
from tabular_pg.progress import progress as progress_bar

__all__ = ["grid", "point_seed", "point_rng", "sweep", "write_table", "read_checkpoint", "SweepIncomplete",
           "StalledTaskWarning"]


class StalledTaskWarning(UserWarning):
    """A task ran longer than the sweep's ``timeout`` and was submitted again."""


class SweepIncomplete(RuntimeError):
    """Some grid points never finished: ``missing`` lists them, ``rows`` holds the finished ones
    (a DataFrame, also in the checkpoint file if one was given)."""

    def __init__(self, missing: list, rows):
        self.missing, self.rows = missing, rows
        shown = ", ".join(json.dumps(p, sort_keys=True) for p in missing[:5])
        super().__init__(f"sweep: {len(missing)} of {len(missing) + len(rows)} grid points did not finish "
                         f"(after their retries): {shown}{' ...' if len(missing) > 5 else ''}")

_SCALARS = (bool, int, float, str, type(None))


def grid(**axes) -> list[dict]:
    """The Cartesian product of the axes, as a list of grid points (last axis fastest).

    Examples
    --------
    >>> grid(gamma=[0.9, 0.99], seed=[0, 1])[1]
    {'gamma': 0.9, 'seed': 1}
    """
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*(axes[k] for k in names))]


def _canonical(point: dict) -> str:
    if not isinstance(point, dict):
        raise TypeError(f"a grid point must be a dict; got {type(point).__name__}")
    bad = {k: v for k, v in point.items() if not isinstance(k, str) or not isinstance(v, _SCALARS)}
    if bad:
        raise TypeError(f"grid point values must be JSON scalars (bool, int, float, str, None) under str "
                        f"keys; got {bad!r}")
    return json.dumps(point, sort_keys=True, allow_nan=False)


def point_seed(point: dict) -> np.random.SeedSequence:
    """A :class:`numpy.random.SeedSequence` from the SHA-256 of the point's canonical JSON.

    Independent of key order, of the grid the point sits in and of the machine
    (``json`` writes floats with their shortest round-trip repr).

    Examples
    --------
    >>> point_seed({"a": 1, "b": 0.5}).entropy == point_seed({"b": 0.5, "a": 1}).entropy
    True
    """
    digest = hashlib.sha256(_canonical(point).encode()).digest()
    return np.random.SeedSequence(int.from_bytes(digest[:16], "little"))


def point_rng(point: dict) -> np.random.Generator:
    """``numpy.random.default_rng(point_seed(point))``: the generator ``fn`` receives."""
    return np.random.default_rng(point_seed(point))


def _run_point(fn, point: dict) -> dict:
    """``{**point, **fn(point, rng)}`` with one BLAS thread (see :func:`sweep`)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        out = fn(point, point_rng(point))
    if not isinstance(out, dict):
        raise TypeError(f"the swept function must return a dict; got {type(out).__name__}")
    return {**point, **out}


def _row_json(point: dict, row: dict) -> str:
    def scalar(x):
        if isinstance(x, np.generic):
            return x.item()
        raise TypeError(f"the swept function must return JSON-able scalars; got {type(x).__name__}")
    return json.dumps({"point": point, "row": row}, default=scalar) + "\n"


def read_checkpoint(path) -> dict:
    """The rows of a checkpoint file, by canonical grid point (:func:`sweep`'s ``checkpoint``).

    A last line cut short (the process was killed while writing it) is dropped from the
    file, so the rerun appends after the last complete row.
    """
    path = Path(path)
    if not path.exists():
        return {}
    text = path.read_text()
    complete = text[:text.rfind("\n") + 1]
    if complete != text:
        with path.open("r+") as f:
            f.truncate(len(complete.encode()))
    rows = {}
    for number, line in enumerate(complete.splitlines(), 1):
        try:
            entry = json.loads(line)
            rows[_canonical(entry["point"])] = entry["row"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"checkpoint {str(path)!r} line {number} is not a sweep row") from None
    return rows


class _Sink:
    """Finished rows by point; each is appended (and flushed) to the checkpoint as it arrives."""

    def __init__(self, checkpoint, bar):
        self.path, self.bar, self.rows = checkpoint, bar, {}

    def add(self, point: dict, row: dict) -> None:
        self.rows[_canonical(point)] = row
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(_row_json(point, row))
        self.bar.update(1)


def _run_serial(fn, points: list[dict], sink: _Sink, timeout, retries) -> list[dict]:
    for point in points:
        sink.add(point, _run_point(fn, point))
    return []


def _processing_since(client, started: dict) -> None:
    """Record when each pending task was first seen on a worker (``started[key] = (time, worker)``)."""
    now = time.monotonic()
    for worker, keys in client.processing().items():
        for key in keys:
            started.setdefault(key, (now, worker))


def _run_on(client, fn, points: list[dict], sink: _Sink, timeout, retries) -> list[dict]:
    """Submit every point; resubmit, on other workers, a task processing longer than ``timeout``."""
    pending: dict = {}
    started: dict = {}           # task key -> (first seen processing, worker)
    stalled: set = set()         # workers whose task was cancelled as stalled
    missing: list[dict] = []

    def submit(i: int, attempt: int) -> None:
        healthy = [w for w in client.scheduler_info()["workers"] if w not in stalled] if stalled else []
        where = {"workers": healthy, "allow_other_workers": False} if healthy else {}
        future = client.submit(_run_point, fn, points[i], pure=False, **where)
        pending[future] = (i, attempt)

    for i in range(len(points)):
        submit(i, 0)
    last_poll = 0.0
    while pending:
        done = [f for f in pending if f.done()]
        for future in done:
            i, _ = pending.pop(future)
            sink.add(points[i], future.result())
            stalled.discard(started.get(future.key, (0, None))[1])     # it was slow, not stopped
        if timeout is not None and time.monotonic() - last_poll > min(1.0, timeout / 4):
            last_poll = time.monotonic()
            _processing_since(client, started)
            for future, (i, attempt) in list(pending.items()):
                since, worker = started.get(future.key, (last_poll, None))
                if last_poll - since > timeout:
                    _retry(future, points[i], attempt, worker, retries, pending, stalled, missing, timeout)
                    if attempt < retries:
                        submit(i, attempt + 1)
        if not done:
            time.sleep(0.05)
    return missing


def _retry(future, point, attempt, worker, retries, pending, stalled, missing, timeout) -> None:
    """Cancel a stalled task, mark its worker, and warn (the caller resubmits) or record it missing."""
    pending.pop(future)
    future.cancel()
    stalled.add(worker)
    again = attempt < retries
    warnings.warn(f"sweep: task {json.dumps(point, sort_keys=True)} on worker {worker} ran longer than "
                  f"{timeout:g} s; {'retrying on another worker' if again else 'giving up'} "
                  f"(attempt {attempt + 1} of {retries + 1})", StalledTaskWarning, stacklevel=4)
    if not again:
        missing.append(point)


def sweep(fn, points, scheduler=None, progress: bool = True, n_workers: int | None = None,
          timeout: float | None = None, retries: int = 2, checkpoint=None):
    """Rows ``{**point, **fn(point, rng)}`` for every grid point, in the order of ``points``.

    Parameters
    ----------
    fn : callable ``(point: dict, rng: numpy.random.Generator) -> dict``
        A pure function of the point and the generator (picklable for a cluster; module
        level, or a closure cloudpickle can carry), returning JSON scalars.
    points : list of dict
        Grid points (see :func:`grid`); values are JSON scalars.
    scheduler : None, 'serial', str or distributed.Client
        ``None``: a ``LocalCluster`` of ``n_workers`` single-threaded processes on this
        machine (default: one per core), closed afterwards; ``'serial'``: this process, no
        Dask; an address (``'tcp://host:8786'``): an existing Dask scheduler; a ``Client``:
        used as it is.
    progress : bool
        Show a progress bar on stderr (:func:`tabular_pg.progress.progress`: tqdm when
        installed, else nothing).
    timeout : float or None
        Seconds a task may stay on a worker (from when the client first sees it there;
        polled about once a second) before it is cancelled and submitted again on a worker
        that has not stalled, with a :class:`StalledTaskWarning` naming the point and the
        worker.  ``None`` (default): wait forever.  On a cluster only: the serial path
        runs ``fn`` in this process, where nothing can interrupt it.
    retries : int >= 0
        Resubmissions per task after a timeout (default 2); a task that times out
        ``retries + 1`` times is missing.
    checkpoint : path or None
        A JSON-lines file to which every row is appended (and flushed) as it finishes.
        Points already in it are not run again: a stopped sweep resumes where it stopped,
        and its rows are the same bit for bit (floats are written exactly).

    Returns
    -------
    pandas.DataFrame
        One row per point, in the order of ``points``; the point's keys, then ``fn``'s.

    Raises
    ------
    SweepIncomplete
        When some tasks timed out ``retries + 1`` times: it names them and carries the
        finished rows (which the checkpoint also holds).

    Notes
    -----
    ``rng = default_rng(point_seed(point))`` with :func:`point_seed` a hash of the point,
    so the same point gives the same row wherever and in whatever order it runs.  ``fn``
    runs with one BLAS thread: a multi-threaded LU blocks its reductions differently and
    changes the last bits (measured on a 200-state dense solve), while the grid already
    keeps every core busy.  The limit is set (``threadpoolctl``) in the calling thread for
    the whole sweep, which covers workers that are threads of this process (a limit set
    from a worker thread was measured not to take effect with OpenBLAS 0.3.31), and again
    around each task; Dask's nannies start worker processes with
    ``OPENBLAS_NUM_THREADS=1`` already.  Bit-identity across machines further needs the
    same BLAS build and kernel.

    Examples
    --------
    >>> def draw(point, rng):
    ...     return {"u": float(rng.random()) + point["x"]}
    >>> rows = sweep(draw, grid(x=[0, 1]), scheduler="serial", progress=False)
    >>> list(rows.columns), bool(rows.u[1] - rows.u[0] != 1.0)    # different points, different streams
    (['x', 'u'], True)
    >>> rows.equals(sweep(draw, grid(x=[1, 0]), scheduler="serial", progress=False)[::-1].reset_index(drop=True))
    True
    """
    import pandas as pd

    points = list(points)
    for point in points:
        _canonical(point)
    timeout = None if timeout is None else positive_number("timeout", timeout)
    retries = integer("retries", retries, 0)
    done = read_checkpoint(check_output_path(checkpoint, "checkpoint")) if checkpoint is not None else {}
    todo = [p for p in points if _canonical(p) not in done]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), progress_bar(total=len(todo), desc="sweep",
                                                   enabled=progress and len(todo) > 0) as bar:
        sink = _Sink(checkpoint, bar)
        missing = _dispatch(fn, todo, scheduler, sink, n_workers, timeout, retries) if todo else []
    done.update(sink.rows)
    rows = pd.DataFrame([done[_canonical(p)] for p in points if _canonical(p) in done])
    if missing:
        raise SweepIncomplete(missing, rows)
    return rows


def _dispatch(fn, points: list[dict], scheduler, sink: _Sink, n_workers, timeout, retries) -> list[dict]:
    if isinstance(scheduler, str) and scheduler == "serial":
        return _run_serial(fn, points, sink, timeout, retries)
    from distributed import Client, LocalCluster

    if scheduler is None:
        n = n_workers or os.cpu_count() or 1
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            return _run_on(client, fn, points, sink, timeout, retries)
    if isinstance(scheduler, str):
        with Client(scheduler) as client:
            return _run_on(client, fn, points, sink, timeout, retries)
    return _run_on(scheduler, fn, points, sink, timeout, retries)


def write_table(rows, path) -> Path:
    """Write the rows (a DataFrame or a list of dicts) to ``path`` through pandas.

    ``.csv`` (floats written with their shortest round-trip repr), ``.parquet`` (needs
    pyarrow or fastparquet), else JSON (a list of objects).  Written to a temporary name
    and renamed: an interrupted write leaves no partial table.
    """
    import pandas as pd

    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    path = check_output_path(path)
    if path.suffix == ".csv":
        return write_atomically(path, lambda f: frame.to_csv(f, index=False))
    if path.suffix == ".parquet":
        try:
            return write_atomically(path, lambda f: frame.to_parquet(f, index=False), mode="wb")
        except ImportError as exc:
            message = f"writing {path.name} needs pyarrow or fastparquet (pip install pyarrow): {exc}"
            raise ImportError(message) from None
    return write_atomically(path, lambda f: f.write(json.dumps(frame.to_dict("records"), indent=1)))
