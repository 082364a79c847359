"""Faults: what survives a kill, an error, threads and fork.

Sections: saving (a save killed or failing at any moment leaves the old file whole).
"""

import os
import signal
import subprocess
import sys
import inspect
import textwrap
import time

import numpy as np
import pytest

import minigrad as mg
from minigrad import serialization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ================================================================ saving
OLD = {"w": np.arange(1000, dtype=np.float64), "epoch": 1}
BIG_ITEMS = 4_000_000  # 32 MB per array, three arrays: a save of about 100 MB


def big_checkpoint():
    return {"w": [np.full(BIG_ITEMS, float(k)) for k in range(3)], "epoch": 2}


CHILD = textwrap.dedent("""
    import numpy as np
    import minigrad as mg
    BIG_ITEMS = {items}
    {source}
    checkpoint = big_checkpoint()
    print("saving", flush=True)
    mg.save(checkpoint, {path!r})
    print("saved", flush=True)
""")
CHECKPOINT_SOURCE = inspect.getsource(big_checkpoint)  # the child saves the same checkpoint


def matches(loaded, expected):
    if isinstance(expected, dict):
        return isinstance(loaded, dict) and list(loaded) == list(expected) and all(
            matches(loaded[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return len(loaded) == len(expected) and all(matches(a, b) for a, b in zip(loaded, expected))
    if isinstance(expected, np.ndarray):
        return np.array_equal(loaded, expected)
    return loaded == expected


def test_a_save_killed_mid_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "checkpoint.npz"
    mg.save(OLD, path)
    new = big_checkpoint()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    outcomes = []
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
        mg.save(OLD, path)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD.format(items=BIG_ITEMS, source=CHECKPOINT_SOURCE, path=str(path))],
            stdout=subprocess.PIPE, env=env, text=True)
        try:
            assert child.stdout.readline().strip() == "saving"
            time.sleep(delay)
            temporaries = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
        loaded = mg.load(path)  # whole in every case: the old file or the new one
        if matches(loaded, OLD):
            outcomes.append("old, temporary seen" if temporaries else "old")
        else:
            assert matches(loaded, new), f"killed after {delay} s: neither the old nor the new checkpoint"
            outcomes.append("new")
        for name in os.listdir(tmp_path):  # a kill leaves its temporary; the next test starts clean
            if name.endswith(".tmp"):
                os.unlink(tmp_path / name)
    # the kills must really have landed mid-write, or this test proves nothing
    assert "old, temporary seen" in outcomes, outcomes


@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
def test_a_save_failing_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, stage):
    path = tmp_path / "checkpoint.npz"
    mg.save(OLD, path)
    before = path.read_bytes()
    calls = []

    def fail(*args, **kwargs):
        calls.append(stage)
        raise OSError(28, "No space left on device")

    if stage == "write":
        real = np.lib.format.write_array

        def write_some_then_fail(stream, array, **kwargs):
            stream.write(b"\x93NUMPY partial")
            fail()

        monkeypatch.setattr(np.lib.format, "write_array", write_some_then_fail)
        assert real is not np.lib.format.write_array
    elif stage == "fsync":
        monkeypatch.setattr(serialization.os, "fsync", fail)
    else:
        monkeypatch.setattr(serialization.os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        mg.save({"w": np.ones(10), "epoch": 5}, path)
    monkeypatch.undo()
    assert calls == [stage]
    assert os.listdir(tmp_path) == ["checkpoint.npz"]
    assert path.read_bytes() == before and matches(mg.load(path), OLD)


@pytest.mark.parametrize("obj", [{"b": [[1, 2], [3]], "c": object()}, {"file": object()}, [1, {2}]],
                         ids=["nested-object", "file-key", "set"])
def test_a_save_that_raises_on_its_input_writes_nothing(tmp_path, obj):
    path = tmp_path / "checkpoint.npz"
    mg.save(OLD, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        mg.save(obj, path)
    assert os.listdir(tmp_path) == ["checkpoint.npz"] and path.read_bytes() == before
