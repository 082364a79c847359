"""How the fused kernels share the cores with NumPy's BLAS threads (and PyTorch's).

Numba's default threading layer here is OpenMP (its bundled ``omppool`` on libgomp):
after each parallel kernel its worker threads keep spinning, waiting for more work.
NumPy's OpenBLAS threads do the same after each matrix product. On 2 cores the two
pools then take turns burning each other's time slices: a loop that alternates the
fused batch norm with a (256, 784) @ (784, 512) matmul measured each of them 5-20x
slower than in a process where only one pool exists. Loading Numba's OpenMP runtime
next to PyTorch's own OpenMP pool slowed PyTorch in the same way.

The remedy chosen: Numba's ``workqueue`` threading layer. Its workers sleep on a
semaphore between kernels (no spinning) and it loads no OpenMP runtime at all, so
nothing is left to fight BLAS or PyTorch. It is the simplest of Numba's layers, which
costs nothing here: our kernels have one flat ``prange`` each, no nesting and no
concurrent callers. See benchmarks/batchnorm.py for the measurements.

The setting has to be made before Numba's first parallel launch; that is why the
kernels package applies it on import (the kernels are imported on the first fused
call). A user who sets ``NUMBA_THREADING_LAYER`` keeps their choice.
"""

import os

THREADING_LAYER = "workqueue"


def configure():
    """Choose Numba's threading layer (unless the environment already chose one).

    Has no effect if a Numba parallel kernel already ran in this process.
    """
    if os.environ.get("NUMBA_THREADING_LAYER"):
        return
    import numba

    numba.config.THREADING_LAYER = THREADING_LAYER
