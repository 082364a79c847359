"""Large matrix products on minigrad's own threads, with OpenBLAS on one thread meanwhile.

Why. NumPy's OpenBLAS runs a large product on its own worker threads, and after it those
workers keep spinning for about 0.1 s, waiting for the next product (OpenBLAS reads how
long, ``OPENBLAS_THREAD_TIMEOUT``, only when NumPy loads). minigrad's Numba kernels run
between the products of a training step (a convolution's tile transforms, a batch norm),
and on 2 cores the spinning worker holds one of them: measured here, the kernels ran at
half speed, a conv2d forward+backward took 7.5 ms instead of 5.3, and a batch norm
alternating with a matmul 1.7x the time of the two apart instead of 1.1x.

What ``matmul`` does. A large product is cut into as many parts as OpenBLAS has threads
(blocks of rows or columns of the output, or of the stack of a batched product), the
parts run at once on the calling thread and minigrad's own threads, and OpenBLAS is set
to one thread meanwhile: each part runs on the thread that asked for it, no OpenBLAS
worker wakes up, so none is left spinning. Then the thread count is put back. A product
too small to be worth cutting (``SPLIT_MIN``), a 2-D product with a short side
(``SHORT_SIDE``), and every product on a machine where OpenBLAS has more than
``MAX_PARTS`` threads are left to OpenBLAS, which does better on them; ``matmul_here``
runs a small product on the calling thread alone, with OpenBLAS on one thread.

Where OpenBLAS is not found (another BLAS, or no /proc to find it in), or it is set to
one thread, ``matmul`` is ``np.matmul``. While a product runs here, a product that
another thread asks OpenBLAS for runs on one thread.
"""

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Products of at least this many multiply-adds (m * n * k) are cut into parts; smaller
# ones go to NumPy as they are: cutting them costs more than it saves (measured: the
# digits CNN's first conv2d step, whose products are 0.6M, took 0.28 ms with them on one
# thread against 0.23 ms on OpenBLAS's threads). ``matmul_here`` is for the small
# products that sit between Numba kernels.
SPLIT_MIN = 1 << 22
# Below this OpenBLAS runs a product on one thread anyway (its own threshold).
OPENBLAS_THREADED_MIN = 65536 * 4

# A large 2-D product with a side shorter than this goes to OpenBLAS's own threads: its
# parts did not run faster side by side here, while OpenBLAS's threads gain 1.4x on it.
# Measured: (16, 9) @ (9, 50176), the forward of a one-channel 3x3 conv2d, 0.14 ms on
# OpenBLAS's threads, 0.20 ms on one, 0.22 ms in two parts; a one-channel conv2d step on
# x (64, 1, 28, 28) 1.3 ms that way against 2.0 ms in parts.
SHORT_SIDE = 32

# With more BLAS threads than this, OpenBLAS is left alone: a spinning worker then holds
# a small share of the machine, and OpenBLAS's own partitioning scales better than parts.
MAX_PARTS = 4


def _find_openblas():
    """``[(get_num_threads, set_num_threads), ...]`` of each OpenBLAS loaded in this
    process, found in /proc/self/maps (Linux); [] where there is none to find."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    controls = []
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            library = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | os.RTLD_LAZY)
        except OSError:
            continue
        # NumPy's own build prefixes and suffixes OpenBLAS's names (scipy_..., ...64_).
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_", "_64"):
                get = getattr(library, f"{prefix}openblas_get_num_threads{suffix}", None)
                put = getattr(library, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    put.restype, put.argtypes = None, [ctypes.c_int]
                    controls.append((get, put))
                    break
            else:
                continue
            break
    return controls


class _OneThread:
    """A context in which every OpenBLAS found runs on one thread; nests, and is shared
    by all threads (the first to enter saves the counts, the last to leave restores)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.depth = 0
        self.saved = []

    def __enter__(self):
        with self.lock:
            if self.depth == 0:
                self.saved = [get() for get, _ in _controls()]
                for _, put in _controls():
                    put(1)
            self.depth += 1

    def __exit__(self, *exc_info):
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                for (_, put), count in zip(_controls(), self.saved):
                    put(count)


_state = {"controls": None, "pool": None, "workers": 0}
_state_lock = threading.Lock()
_one_thread = _OneThread()


def _controls():
    if _state["controls"] is None:
        _state["controls"] = _find_openblas()
    return _state["controls"]


def _pool(workers):
    """minigrad's threads for the parts, made on first use (and again after a fork)."""
    with _state_lock:
        if _state["pool"] is None or _state["workers"] < workers:
            _state["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="minigrad-blas")
            _state["workers"] = workers
        return _state["pool"]


def _forget_pool():
    # The pool's threads do not survive a fork; the child makes its own.
    _state["pool"], _state["workers"] = None, 0
    _one_thread.lock = threading.Lock()
    _one_thread.depth = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def threads():
    """How many parts a large product is cut into: OpenBLAS's thread count, or 1 where
    OpenBLAS is not found (then ``matmul`` is ``np.matmul``)."""
    controls = _controls()
    if not controls or _one_thread.depth:
        return 1
    return max(1, controls[0][0]())


def _parts(a, b, out, count):
    """``count`` triples (a_i, b_i, out_i) whose products fill ``out``: the batch of a stack
    of products, else the longer of the output's two axes, in contiguous blocks."""
    if a.ndim == 3:
        edges = np.linspace(0, a.shape[0], count + 1).astype(int)
        return [(a[i:j], b[i:j], out[i:j]) for i, j in zip(edges[:-1], edges[1:]) if j > i]
    rows, columns = out.shape
    if rows >= columns:
        edges = np.linspace(0, rows, count + 1).astype(int)
        return [(a[i:j], b, out[i:j]) for i, j in zip(edges[:-1], edges[1:]) if j > i]
    edges = np.linspace(0, columns, count + 1).astype(int)
    return [(a, b[:, i:j], out[:, i:j]) for i, j in zip(edges[:-1], edges[1:]) if j > i]


def matmul(a, b, out=None):
    """``np.matmul(a, b, out=out)``, run so that no OpenBLAS worker is left spinning.

    Two 2-D operands, or two stacks of matrices of one length (3-D), are cut into parts
    on minigrad's threads (see the module's docstring); anything else goes to NumPy.

    >>> import numpy as np
    >>> a, b = np.ones((300, 200)), np.ones((200, 100))
    >>> bool((matmul(a, b) == a @ b).all())
    True
    """
    stacked = a.ndim == 3 and b.ndim == 3 and a.shape[0] == b.shape[0]
    if not (stacked or (a.ndim == 2 and b.ndim == 2)) or a.shape[-1] != b.shape[-2]:
        return np.matmul(a, b, out=out)
    batch = a.shape[0] if stacked else 1
    m, k = a.shape[-2:]
    n = b.shape[-1]
    work = batch * m * n * k
    count = threads() if work >= SPLIT_MIN else 1
    if (count == 1 or count > MAX_PARTS
            or (not stacked and min(m, n, k) < SHORT_SIDE)
            or (out is not None and (np.may_share_memory(out, a) or np.may_share_memory(out, b)))):
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(a.shape[:-1] + (n,), np.result_type(a, b))
    parts = _parts(a, b, out, count)
    pool = _pool(len(parts) - 1) if len(parts) > 1 else None
    with _one_thread:
        futures = [pool.submit(np.matmul, *part[:2], out=part[2]) for part in parts[1:]]
        try:
            np.matmul(*parts[0][:2], out=parts[0][2])
        finally:
            for future in futures:
                future.result()
    return out


def matmul_here(a, b):
    """``np.matmul(a, b)`` on the calling thread alone, OpenBLAS on one thread meanwhile:
    for a small product between Numba kernels, which OpenBLAS would otherwise hand to
    its workers and leave them spinning (Winograd's filter transforms)."""
    if a.size * b.shape[-1] < OPENBLAS_THREADED_MIN or not _controls():
        return np.matmul(a, b)
    with _one_thread:
        return np.matmul(a, b)
