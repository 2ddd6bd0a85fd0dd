"""Run a pure function over a grid of parameters, serially or on a Dask cluster.

A benchmark grid (MDPs x H x n x estimators x seeds) is a list of *grid points*, each a
dict of JSON scalars.  :func:`sweep` calls ``fn(point, rng)`` for every point and returns
one row per point, in grid order, ``{**point, **fn(point, rng)}``.  The generator ``rng``
is seeded from a hash of the point's parameters (:func:`point_seed`), never from the
position in the grid or from the worker, so a row is bit-identical whether it ran
serially, on a local cluster of processes, or on a remote cluster, in any order.

``dask.distributed`` is imported only when a cluster is used; it and ``threadpoolctl``
form the optional extra ``sweep``.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
from pathlib import Path

import numpy as np

from tabular_pg.progress import progress as progress_bar

__all__ = ["grid", "point_seed", "point_rng", "sweep", "write_table"]

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


def _run_serial(fn, points: list[dict], bar) -> list[dict]:
    rows = []
    for point in points:
        rows.append(_run_point(fn, point))
        bar.update(1)
    return rows


def _run_on(client, fn, points: list[dict], bar) -> list[dict]:
    from distributed import as_completed

    futures = client.map(_run_point, [fn] * len(points), points, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    rows: list = [None] * len(points)
    for future in as_completed(futures):
        rows[index[future.key]] = future.result()
        bar.update(1)
    return rows


def sweep(fn, points, scheduler=None, progress: bool = True, n_workers: int | None = None) -> list[dict]:
    """Rows ``{**point, **fn(point, rng)}`` for every grid point, in the order of ``points``.

    Parameters
    ----------
    fn : callable ``(point: dict, rng: numpy.random.Generator) -> dict``
        A pure function of the point and the generator (picklable for a cluster; module
        level, or a closure cloudpickle can carry).
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

    Returns
    -------
    list of dict

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
    >>> rows[1]["u"] - rows[0]["u"] != 1.0    # different points, different streams
    True
    >>> rows == sweep(draw, grid(x=[1, 0]), scheduler="serial", progress=False)[::-1]
    True
    """
    points = list(points)
    for point in points:
        _canonical(point)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), progress_bar(total=len(points), desc="sweep",
                                                   enabled=progress and len(points) > 0) as bar:
        return _dispatch(fn, points, scheduler, bar, n_workers)


def _dispatch(fn, points: list[dict], scheduler, bar, n_workers: int | None) -> list[dict]:
    if isinstance(scheduler, str) and scheduler == "serial":
        return _run_serial(fn, points, bar)
    from distributed import Client, LocalCluster

    if scheduler is None:
        n = n_workers or os.cpu_count() or 1
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            return _run_on(client, fn, points, bar)
    if isinstance(scheduler, str):
        with Client(scheduler) as client:
            return _run_on(client, fn, points, bar)
    return _run_on(scheduler, fn, points, bar)


def write_table(rows: list[dict], path) -> Path:
    """Write the rows to ``path``: CSV for ``.csv``, JSON (a list of objects) otherwise."""
    path = Path(path)
    if path.suffix == ".csv":
        columns = list(dict.fromkeys(k for row in rows for k in row))
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text(json.dumps(rows, indent=1))
    return path
