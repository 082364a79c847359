"""minigrad/blas.py: large products cut into parts on minigrad's threads, OpenBLAS on one
thread meanwhile. The results must be NumPy's; the thread count must come back."""

import multiprocessing
import os
import threading
import time

import numpy as np
import pytest

from minigrad import blas

found = pytest.mark.skipif(not blas._controls(), reason="no OpenBLAS found in this process")


def draw(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (a, b) shapes: tall and wide outputs, stacks of products, sizes on each side of the
# thresholds, a stack shorter than the thread count
SHAPES = [
    ((300, 200), (200, 100)),
    ((40, 300), (300, 700)),
    ((3, 200, 64), (3, 64, 90)),
    ((36, 128, 32), (36, 32, 64)),
    ((1, 300, 300), (1, 300, 300)),
    ((70, 60), (60, 80)),  # above OpenBLAS's threading threshold, below the split
    ((8, 9), (9, 7)),  # small: straight to NumPy
    ((16, 9), (9, 40000)),  # large with a short side: OpenBLAS's own threads
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("a_shape, b_shape", SHAPES)
def test_matmul_equals_numpy(a_shape, b_shape, dtype):
    a, b = draw(*a_shape, seed=1, dtype=dtype), draw(*b_shape, seed=2, dtype=dtype)
    expected = np.matmul(a, b)
    got = blas.matmul(a, b)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if dtype == np.int64:
        np.testing.assert_array_equal(got, expected)
    else:  # the parts may sum in another order: rounding only
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())


def test_matmul_writes_into_out_and_reads_views():
    a = draw(200, 300, seed=1).T  # (300, 200), not contiguous
    b = draw(100, 200, seed=2)[:, ::1].T
    out = np.full((400, 120), np.nan)
    view = out[50:350, 10:110]  # a strided block of a larger array
    result = blas.matmul(a, b, out=view)
    assert result is view
    np.testing.assert_allclose(view, a @ b, rtol=1e-12, atol=1e-12 * np.abs(view).max())
    assert np.isnan(out[:50]).all() and np.isnan(out[:, :10]).all()  # nothing outside it


def test_other_shapes_and_errors_are_numpy_s():
    v, m = draw(300, seed=1), draw(300, 200, seed=2)
    np.testing.assert_allclose(blas.matmul(v, m), v @ m)  # 1-D: NumPy's own rules
    stack = draw(2, 1, 300, 300, seed=3)
    np.testing.assert_allclose(blas.matmul(stack, m[None, None, :, :100].repeat(2, 0)),
                               stack @ m[None, None, :, :100].repeat(2, 0))
    with pytest.raises(ValueError):
        blas.matmul(draw(300, 200), draw(300, 200))


@found
def test_openblas_runs_on_one_thread_inside_and_the_count_comes_back():
    get = blas._controls()[0][0]
    before = get()
    with blas._one_thread:
        assert get() == 1
        with blas._one_thread:  # nests
            assert get() == 1
        assert get() == 1
    assert get() == before
    blas.matmul(draw(400, 400), draw(400, 400))
    assert get() == before


@found
def test_concurrent_products_are_right_and_the_count_comes_back():
    get = blas._controls()[0][0]
    before = get()
    a, b = draw(4, 300, 300, seed=1), draw(4, 300, 300, seed=2)
    expected = a @ b
    errors = []

    def work():
        for _ in range(10):
            if not np.allclose(blas.matmul(a, b), expected, rtol=1e-12):
                errors.append("wrong product")

    workers = [threading.Thread(target=work) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert get() == before


def _cpu_ticks():
    ticks = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[int(tid)] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


@found
@pytest.mark.skipif(not blas.threads() > 1, reason="OpenBLAS runs on one thread here")
def test_no_openblas_worker_works_or_spins_during_or_after_the_products():
    a, b = draw(600, 600, seed=1, dtype=np.float32), draw(600, 600, seed=2, dtype=np.float32)
    blas.matmul(a, b)  # the pool's threads exist from here on
    ours = {t.native_id for t in threading.enumerate()}  # main, minigrad's pool, pytest's
    time.sleep(0.2)  # a worker woken by an earlier test's NumPy product stops spinning
    before = _cpu_ticks()
    start = time.perf_counter()
    while time.perf_counter() - start < 0.3:
        blas.matmul(a, b)
    time.sleep(0.05)
    after = _cpu_ticks()
    others = sum(after[t] - before.get(t, 0) for t in after if t not in ours)
    # An OpenBLAS worker doing half of 0.3 s of products, or spinning after them, would
    # have taken 15 or more ticks of 10 ms.
    assert others <= 3, f"threads outside minigrad took {others} ticks"


def _product_in_child(queue):
    a, b = draw(300, 300, seed=1), draw(300, 300, seed=2)
    queue.put(bool(np.allclose(blas.matmul(a, b), a @ b)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_makes_its_own_threads():
    blas.matmul(draw(300, 300), draw(300, 300))  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_product_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) is True


@found
def test_matmul_here_runs_openblas_on_one_thread():
    get = blas._controls()[0][0]
    before = get()
    seen = []
    original = np.matmul

    def spy(a, b):
        seen.append(get())
        return original(a, b)

    a, b = draw(36, 9, seed=1), draw(9, 2048, seed=2)
    try:
        blas.np.matmul = spy
        result = blas.matmul_here(a, b)
    finally:
        blas.np.matmul = original
    assert seen == [1] and get() == before
    np.testing.assert_allclose(result, a @ b)


def test_an_out_that_overlaps_an_operand_is_numpy_s():
    a = draw(300, 300, seed=1)
    expected = a @ a
    np.testing.assert_allclose(blas.matmul(a, a, out=a), expected)  # NumPy copies first


def test_many_blas_threads_are_left_to_openblas(monkeypatch):
    monkeypatch.setattr(blas, "threads", lambda: blas.MAX_PARTS + 1)
    monkeypatch.setattr(blas, "_pool", None)  # would fail if a part were submitted
    a, b = draw(300, 300, seed=1), draw(300, 300, seed=2)
    np.testing.assert_allclose(blas.matmul(a, b), a @ b)


def test_without_openblas_it_is_numpy(monkeypatch):
    monkeypatch.setitem(blas._state, "controls", [])
    assert blas.threads() == 1
    a, b = draw(300, 300, seed=1), draw(300, 300, seed=2)
    np.testing.assert_allclose(blas.matmul(a, b), a @ b)
