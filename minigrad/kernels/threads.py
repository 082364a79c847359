"""How the fused kernels share 2 cores with NumPy's BLAS threads and PyTorch's.

The problem. Numba's parallel kernels run on a pool of worker threads (its OpenMP
"threading layer" here), and OpenMP workers keep spinning for a while after each
kernel, waiting for more work; NumPy's OpenBLAS workers do the same after each matrix
product. On 2 cores two spinning pools take turns burning each other's time slices: a
loop alternating the fused batch norm with a (256, 784) @ (784, 512) matmul ran 3x
slower than the two apart, and each of them 5-20x slower than in a process with one
pool. PyTorch shares the OpenMP runtime (both load ``libgomp.so.1``), so its ops
suffered in the same way once a Numba kernel had started the spinning pool.

The remedy, measured in benchmarks/batchnorm.py:

* ``OMP_WAIT_POLICY=PASSIVE``: OpenMP workers sleep as soon as a parallel region
  ends. OpenMP reads it once, when the runtime loads, so it is set here (unless the
  user set it) before Numba loads the runtime at its first parallel launch. PyTorch
  imported later in the process shares the runtime and the setting; under load it
  also removed PyTorch's own worst cases.
* the ``omp`` threading layer first. Numba's ``workqueue`` layer does not spin either,
  but waking its workers cost 50-250 microseconds per kernel here (four kernels per
  training step), against about 10 for a passive OpenMP pool.
* if an OpenMP runtime is already loaded with spinning workers (PyTorch imported
  first), the setting can no longer take effect: then the ``workqueue`` layer is
  used, so that Numba adds no spinning pool of its own.
* kernels on small inputs run on one thread (see ``single_thread_below``): waking a
  worker costs more than it saves.

A user who sets ``NUMBA_THREADING_LAYER`` keeps their choice.

What is left: OpenBLAS's own workers spin for about 0.1 s after each large matrix
product (2**28 cycles), and OpenBLAS reads that setting, ``OPENBLAS_THREAD_TIMEOUT``,
only when NumPy loads it. A kernel that runs meanwhile shares a core with the spinning
worker and runs about half as fast. minigrad's own products avoid it: minigrad/blas.py
runs them with OpenBLAS on one thread, on minigrad's own threads. After a NumPy product
the spin remains, unless Python was started with ``OPENBLAS_THREAD_TIMEOUT=16``.
"""

import contextlib
import os

import numba

# What ``configure`` chose, for the benchmark's report.
CHOICE = None


def openmp_runtime_loaded():
    """Whether an OpenMP runtime is already mapped into this process (Linux only)."""
    try:
        with open("/proc/self/maps") as maps:
            text = maps.read()
    except OSError:
        return False
    return "libgomp" in text or "libomp" in text or "libiomp" in text


def configure():
    """Choose Numba's threading layer and OpenMP's wait policy.

    Must run before Numba's first parallel launch; without effect after it.
    """
    global CHOICE
    if os.environ.get("NUMBA_THREADING_LAYER"):
        CHOICE = f"NUMBA_THREADING_LAYER={os.environ['NUMBA_THREADING_LAYER']} (set by the user)"
        return
    policy = os.environ.get("OMP_WAIT_POLICY", "").lower()
    if openmp_runtime_loaded() and policy != "passive":
        numba.config.THREADING_LAYER_PRIORITY = ["workqueue", "omp", "tbb"]
        CHOICE = "workqueue (an OpenMP runtime with spinning workers was already loaded)"
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
    CHOICE = f"omp with OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"


@contextlib.contextmanager
def single_thread_below(size, threshold):
    """Run the kernels inside on one thread when ``size`` is below ``threshold``."""
    if size >= threshold:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
