"""Reliability of the ``tabular-pg`` command (issue 20): one line and exit 2 on every input
the issue lists, sizes checked before allocating, a quiet exit when the reader of stdout
goes away, and output files that are complete or absent.

Each case failed before its fix (a traceback and exit 1, minutes of work before failing,
a truncated file, or directories created).  Most run ``main([...])`` in this process; the
pipe and the segfault-free file run in a child process.
"""
import errno
import json
import subprocess
import sys

import numpy as np
import pytest

import tabular_pg as tpg
from tabular_pg.cli.main import main
from tabular_pg.io import files
from tabular_pg.io.output import MANIFEST, prepare_folder, record_folder, write_atomically


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code, err, match):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert match in lines[0], lines[0]


def json_mdp(tmp_path, name="m.json", **changes):
    doc = {"states": 2, "actions": 1, "transitions": [[[0.0, 1.0]], [[0.0, 1.0]]], "rewards": [[1.0], [0.0]],
           "mu": [1.0, 0.0], "gamma": 0.5}
    doc.update(changes)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("changes, match", [
    ({"gamma": 10**400}, "gamma must lie in [0, 1]; got an integer of 401 digits"),
    ({"states": 10**12}, "more than the limit 10000000"),
    ({"states": 10**5, "actions": 10**5}, "state-action pairs, more than the 100000000"),
    ({"horizon": 10**9, "gamma": 1.0}, "H*S*A = 2000000000 entries, beyond the limit 100000000"),
])
def test_files_the_issue_listed_give_one_line(capsys, tmp_path, changes, match):
    assert_one_line(*run(capsys, "solve", json_mdp(tmp_path, **changes))[::2], match)


def test_deeply_nested_and_oversized_json_give_one_line(capsys, tmp_path, monkeypatch):
    deep = tmp_path / "deep.json"
    deep.write_text('{"states": ' + "[" * 5000 + "]" * 5000 + "}")
    assert_one_line(*run(capsys, "solve", deep)[::2], "JSON nested too deeply")
    monkeypatch.setattr(files, "MAX_JSON_BYTES", 50)          # stands for the 1 GB file
    assert_one_line(*run(capsys, "solve", json_mdp(tmp_path))[::2], "more than the 50 a JSON MDP may have")


@pytest.mark.parametrize("argv, match", [
    (["solve", "garnet:S=100000000"], "S=100000000 in 'garnet:S=100000000' exceeds the limit 1000000"),
    (["solve", "chain:H=1000000000"], "exceeds the limit 1000000"),
    (["estimators", "chain:H=3", "--n", "1000000000"], "--n must be at most 1000000"),
    (["estimators", "chain:H=3", "--seeds", "100000000"], "--seeds must be at most 10000"),
    (["estimators", "chain:H=3", "--n", "1000000", "--seeds", "100"], "--n x --seeds must be at most 10000000"),
    (["train", "chain:H=3", "--algo", "pg", "--sampled", "1000000000"], "--sampled must be at most 1000000"),
    (["train", "chain:H=3", "--algo", "pg", "--plot", "/nonexistent/dir/x.png"], "does not exist (it is not created)"),
    (["tour", "--out", ""], "--out must name a folder; got ''"),
])
def test_sizes_and_outputs_are_checked_before_any_work(capsys, argv, match):
    assert_one_line(*run(capsys, *argv)[::2], match)


def test_a_file_named_like_a_spec_does_not_shadow_the_zoo(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chain:H=3").write_text("not an MDP")
    code, out, err = run(capsys, "solve", "chain:H=3", "--json")
    assert code == 0, err
    assert json.loads(out)["J"] == pytest.approx(3.0 ** -3, rel=1e-12)      # the chain's exact J = A^-H
    assert_one_line(*run(capsys, "solve", "./chain:H=3")[::2], "path must end in .json or .npz")


def test_npz_declaring_7_tib_gives_one_line(capsys, tmp_path):
    path = tmp_path / "huge.npz"
    tpg.io.save(tpg.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], [1.0], gamma=0.5), path)
    import zipfile
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    b = members["mu.npy"]
    head_len = 10 + int.from_bytes(b[8:10], "little")
    header = b[10:head_len].replace(b"(1,)", b"(1099511627776,)").rstrip(b"\n ")
    header += b" " * (head_len - 11 - len(header)) + b"\n"
    members["mu.npy"] = b[:8] + len(header).to_bytes(2, "little") + header + b[head_len:]
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert_one_line(*run(capsys, "solve", path)[::2], "declares shape (1099511627776,)")


def test_broken_pipe_exits_quietly(tmp_path):
    """``tabular-pg solve ... | head -1``: the reader closes after one line."""
    proc = subprocess.Popen([sys.executable, "-m", "tabular_pg.cli", "solve", "garnet:S=3000,A=2,b=2",
                             "--rows", "3000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert first.startswith(b"MDP garnet") and err == ""


def test_report_md_that_is_a_directory_fails_before_running(capsys, tmp_path):
    (tmp_path / "out" / "report.md").mkdir(parents=True)
    assert_one_line(*run(capsys, "tour", "--small", "--out", tmp_path / "out")[::2],
                    "'report.md' inside it is a directory")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.md"]


def test_a_folder_of_someone_elses_files_is_refused(capsys, tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    assert_one_line(*run(capsys, "tour", "--small", "--out", tmp_path)[::2], "holds files tabular-pg did not write")
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_a_rerun_removes_exactly_the_previous_runs_files(tmp_path):
    out = prepare_folder(tmp_path / "tour", reserved=("report.md",))
    for name in ("report.md", "old_figure.png"):
        (out / name).write_text("old")
    record_folder(out, ["report.md", out / "old_figure.png"])
    (out / "notes.txt").write_text("the user's")              # not in the manifest: kept
    prepare_folder(out, reserved=("report.md",))
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "notes.txt"])


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")

    def half_then_interrupt(f):
        f.write(b"\x89PNG half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, half_then_interrupt, mode="wb")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["figure.png"]


def test_disk_full_gives_one_line_and_no_partial_file(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    def full(self, f, **kwargs):
        f.write(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    code, _, err = run(capsys, "train", "chain:H=3", "--algo", "pg", "--iters", "2", "--plot", tmp_path / "c.png")
    assert_one_line(code, err, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_plot_without_suffix_is_written_where_it_says(capsys, tmp_path):
    """--plot noext wrote noext.png but printed noext: now the path printed is the file written."""
    pytest.importorskip("matplotlib")
    code, out, err = run(capsys, "train", "chain:H=3", "--algo", "pg", "--iters", "2", "--plot", tmp_path / "noext")
    assert code == 0, err
    assert (tmp_path / "noext.png").read_bytes()[:4] == b"\x89PNG" and str(tmp_path / "noext.png") in out
    assert not (tmp_path / "noext").exists()
