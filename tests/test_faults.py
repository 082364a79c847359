"""Faults: what survives a kill, an error, threads and fork.

Sections: saving (a save killed or failing at any moment leaves the old file whole);
threads and fork (each scenario in a fresh process under a timeout, so a crash or a
hang fails the test instead of taking the run down or stalling it).
"""

import importlib.util
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


# ================================================================ threads and fork
HAS_TORCH = importlib.util.find_spec("torch") is not None
TIMEOUT = 240


def run_script(code):
    """Run ``code`` in a fresh interpreter; its stdout's last line, which must be 'ok'."""
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_BACKEND"}  # the kernels
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the scenario hung for {TIMEOUT} s:\n{error.stdout}\n{error.stderr}")
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip().splitlines()[-1] == "ok", done.stdout + done.stderr


# A conv2d on the Numba kernels (Winograd for 16 channels, im2col below) and both batch
# norms, trained for a few steps from fixed weights: the final weights are the result.
TRAIN = """
import numpy as np
import minigrad as mg
from minigrad import nn, optim

def train(seed, impl, steps=3):
    rng = np.random.default_rng(seed)
    conv = nn.Conv2d(16, 16, 3, padding=1)
    bn = nn.BatchNorm2d(16, impl=impl)
    for p in list(conv.parameters()) + list(bn.parameters()):
        p.data[...] = rng.standard_normal(p.shape).astype(p.dtype) * 0.1 + (1.0 if p is bn.weight else 0.0)
    x = mg.tensor(rng.standard_normal((32, 16, 16, 16)).astype(np.float32))
    opt = optim.SGD(list(conv.parameters()) + list(bn.parameters()), lr=0.01, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        loss = (bn(conv(x)).relu() * mg.tensor(rng.standard_normal((32, 16, 16, 16)).astype(np.float32))).sum()
        loss.backward()
        opt.step()
    return [p.numpy().copy() for p in list(conv.parameters()) + list(bn.parameters())]

def same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))
"""


@pytest.mark.parametrize("torch_first", [False, True])
def test_two_threads_training_give_the_lone_results_bitwise(torch_first):
    if torch_first and not HAS_TORCH:
        pytest.skip("PyTorch is not installed")
    run_script(("import torch\n" if torch_first else "") + TRAIN + """
import threading
jobs = [(0, "fused"), (1, "composed"), (2, "fused")]
lone = {job: train(*job) for job in jobs}
for _ in range(2):
    got = {}
    threads = [threading.Thread(target=lambda job=job: got.__setitem__(job, train(*job))) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(got) == set(jobs), "a thread failed"
    for job in jobs:
        assert same(got[job], lone[job]), f"{job} differs from its lone run"
print("ok")
""")


def test_a_forked_child_runs_the_kernels():
    run_script(TRAIN + """
import os
import pickle
parent = train(0, "fused")  # the parallel kernels have run in this process
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        result = train(0, "fused")
        os.write(write, b"1" if same(result, parent) else b"0")
    finally:
        os._exit(0)
os.close(write)
_, status = os.waitpid(pid, 0)
answer = os.read(read, 1)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"
assert answer == b"1", f"the child's results differ from the parent's ({answer!r})"
print("ok")
""")


def test_a_fork_pool_runs_the_kernels():
    run_script(TRAIN + """
import multiprocessing
import minigrad.nn.functional as F

def job(seed):
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((16, 16, 16, 16)).astype(np.float32))
    w = mg.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32))
    y = F.batch_norm(F.conv2d(x, w, padding=1), None, None, training=True, impl="fused")
    return y.numpy()

if __name__ == "__main__":
    expected = [job(seed) for seed in range(4)]  # the parallel kernels have run here
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map_async(job, range(4)).get(timeout=120)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    print("ok")
""")
