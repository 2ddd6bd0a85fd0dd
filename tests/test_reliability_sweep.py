"""Reliability of sweeps (issue 20): a stalled worker no longer hangs the sweep, rows are
written as they finish and a rerun resumes, the points that never finish are named.

Before: a Dask worker stopped with SIGSTOP left ``bench/sweep.py`` at 766/768 for more
than 8 minutes with no log line, and stopping it lost every row (written at the end).
"""
import json
import os
import signal
import time
from pathlib import Path

import distributed
import numpy as np
import pandas as pd
import pytest

from tabular_pg.sweep import StalledTaskWarning, SweepIncomplete, grid, read_checkpoint, sweep, write_table


def first_call(point, x, act) -> dict:
    """Run ``act()`` in the first call for ``point["x"] == x`` (noting the pid in the marker file);
    return the row every call returns."""
    marker = Path(point["marker"])
    if point["x"] == x and not marker.exists():
        marker.write_text(str(os.getpid()))
        act()
    return {"y": 2 * point["x"]}


def stop_once(point, rng):
    """The first call for x = 0 stops its own worker process (SIGSTOP)."""
    return {**first_call(point, 0, lambda: os.kill(os.getpid(), signal.SIGSTOP)), "u": float(rng.random())}


def slow_once(point, rng):
    """The first call for x = 0 sleeps 60 s (a task that outlives any sensible timeout)."""
    return {**first_call(point, 0, lambda: time.sleep(60)), "u": float(rng.random())}


def kill_once(point, rng):
    """The first call for x = 1 kills its own worker process (SIGKILL)."""
    return {**first_call(point, 1, lambda: os.kill(os.getpid(), signal.SIGKILL)), "u": float(rng.random())}


@pytest.fixture
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c, distributed.Client(c) as client:
        yield client


def test_a_stopped_worker_is_timed_out_and_its_task_retried_elsewhere(cluster, tmp_path):
    marker = tmp_path / "stopped.pid"
    points = grid(x=[0, 1, 2, 3], marker=[str(marker)])
    try:
        with pytest.warns(StalledTaskWarning, match=r'"x": 0.* ran longer than 8 s; retrying on another worker'):
            rows = sweep(stop_once, points, scheduler=cluster, progress=False, timeout=8, retries=1)
    finally:
        if marker.exists():
            os.kill(int(marker.read_text()), signal.SIGCONT)
    expected = sweep(stop_once, points, scheduler="serial", progress=False)     # marker exists: no stop
    assert rows.equals(expected)
    assert list(rows.y) == [0, 2, 4, 6]


def test_a_killed_worker_gives_rows_bit_identical_to_serial(cluster, tmp_path):
    """What held up (kept): Dask reruns the task of a SIGKILLed worker; the row is the same bits."""
    points = grid(x=[0, 1, 2, 3], marker=[str(tmp_path / "killed.pid")])
    rows = sweep(kill_once, points, scheduler=cluster, progress=False, timeout=60)
    assert (tmp_path / "killed.pid").exists()
    assert rows.equals(sweep(kill_once, points, scheduler="serial", progress=False))


def test_tasks_that_never_finish_are_named_and_a_rerun_completes_them(cluster, tmp_path):
    marker, checkpoint = tmp_path / "slow.pid", tmp_path / "rows.jsonl"
    points = grid(x=[0, 1, 2, 3, 4, 5], marker=[str(marker)])
    with pytest.warns(StalledTaskWarning, match="giving up"), pytest.raises(SweepIncomplete) as info:
        sweep(slow_once, points, scheduler=cluster, progress=False, timeout=6, retries=0, checkpoint=checkpoint)
    missing, partial = info.value.missing, info.value.rows
    assert points[0] in missing and len(missing) + len(partial) == len(points)
    assert f"{len(missing)} of 6 grid points did not finish" in str(info.value)
    assert len(read_checkpoint(checkpoint)) == len(partial)                 # every finished row was kept
    rows = sweep(slow_once, points, scheduler="serial", progress=False, checkpoint=checkpoint)
    assert rows.equals(sweep(slow_once, points, scheduler="serial", progress=False))
    assert len(checkpoint.read_text().splitlines()) == len(points)         # the rerun ran only the missing


def test_an_interrupted_serial_sweep_resumes_bit_identically(tmp_path):
    checkpoint, calls, interrupt = tmp_path / "rows.jsonl", [], [True]

    def draw(point, rng):
        calls.append(point["x"])
        if point["x"] == 3 and interrupt:
            interrupt.clear()
            raise KeyboardInterrupt
        return {"u": float(rng.random()), "v": np.float64(rng.normal())}

    points = grid(x=[0, 1, 2, 3, 4])
    with pytest.raises(KeyboardInterrupt):
        sweep(draw, points, scheduler="serial", progress=False, checkpoint=checkpoint)
    assert len(read_checkpoint(checkpoint)) == 3
    with checkpoint.open("a") as f:                         # killed in the middle of writing a row
        f.write('{"point": {"x": 3}, "ro')
    calls.clear()
    rows = sweep(draw, points, scheduler="serial", progress=False, checkpoint=checkpoint)
    assert calls == [3, 4]
    fresh = sweep(draw, points, scheduler="serial", progress=False)
    assert rows.equals(fresh)
    assert all(json.loads(line) for line in checkpoint.read_text().splitlines())


def test_bad_timeouts_checkpoints_and_tables(tmp_path):
    f = lambda p, rng: {"u": 1.0}                           # noqa: E731
    with pytest.raises(ValueError, match="timeout must be a finite number > 0"):
        sweep(f, grid(x=[1]), scheduler="serial", timeout=0)
    with pytest.raises(TypeError, match="retries must be an int >= 0"):
        sweep(f, grid(x=[1]), scheduler="serial", retries="2")
    with pytest.raises(ValueError, match="does not exist"):
        sweep(f, grid(x=[1]), scheduler="serial", checkpoint=tmp_path / "no" / "rows.jsonl")
    with pytest.raises(ValueError, match="is a directory"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path)


def test_parquet_through_pandas(tmp_path):
    frame = pd.DataFrame({"x": [1, 2], "u": [0.1, 1 / 3]})
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs pyarrow or fastparquet"):
            write_table(frame, tmp_path / "rows.parquet")
        assert list(tmp_path.iterdir()) == []                # no partial file
        return
    assert pd.read_parquet(write_table(frame, tmp_path / "rows.parquet")).equals(frame)
