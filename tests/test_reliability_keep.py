"""What held up under issue 20's attacks, kept as tests so that it stays so: empty and
UTF-16 files refused cleanly, a read-only folder gives one line and no partial file,
threads sharing MDPs and a fork during use give results bit-identical to serial ones.

(Already kept elsewhere: pickles in ``.npz`` refused -- tests/test_io.py; NaN/Inf/negative
rows -- tests/test_mdp.py; the residual certificate and PrecisionWarning above 1e-10 --
tests/test_edge_cases.py; disk full -- tests/test_reliability_cli.py; SIGKILLed Dask
workers -- tests/test_reliability_sweep.py.)
"""
import errno
import multiprocessing
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mdps
import tabular_pg as tpg
from tabular_pg.cli.main import main


@pytest.mark.parametrize("name, content, match", [
    ("empty.json", b"", "not valid JSON"),
    ("empty.npz", b"", "not a readable .npz"),
    ("utf16.json", '{"states": 1}'.encode("utf-16"), "not a UTF-8 text file"),
])
def test_empty_and_utf16_files_are_refused_cleanly(tmp_path, capsys, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        tpg.io.load(path)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err


def test_read_only_folder_gives_one_line_and_no_partial_file(tmp_path, capsys, monkeypatch):
    """Simulated (the tests may run as root, whom chmod does not stop): creating any file fails."""
    pytest.importorskip("matplotlib")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code = main(["train", "chain:H=3", "--algo", "pg", "--iters", "2", "--plot", str(tmp_path / "c.png")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Read-only file system" in err
    assert list(tmp_path.iterdir()) == []


def quantities(mdp, theta):
    pol = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    ev = tpg.evaluate(mdp, pol.probs(theta))
    return np.concatenate([ev.V, ev.d, tpg.policy_gradient(mdp, pol, theta)])


SHARED = [mdps.garnet(300, 3, 3, seed=k, gamma=0.95) for k in range(2)] + [mdps.garnet(40, 3, 3, seed=2, gamma=0.9)]


def test_eight_threads_on_shared_mdps_are_bit_identical_to_serial():
    jobs = [(SHARED[k % 3], np.random.default_rng(k).normal(size=SHARED[k % 3].n_states * 3)) for k in range(24)]
    serial = [quantities(*job) for job in jobs]
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda job: quantities(*job), jobs))
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))


def _child(conn, k):
    conn.send(quantities(SHARED[k], np.random.default_rng(k).normal(size=SHARED[k].n_states * 3)))
    conn.close()


def test_a_fork_during_use_gives_the_same_bits():
    expected = [quantities(SHARED[k], np.random.default_rng(k).normal(size=SHARED[k].n_states * 3)) for k in range(3)]
    ctx = multiprocessing.get_context("fork")
    for k in range(3):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(child, k))
        proc.start()
        got = parent.recv()
        proc.join(timeout=120)
        assert proc.exitcode == 0 and np.array_equal(got, expected[k])
