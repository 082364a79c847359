"""How the fused kernels share 2 cores with NumPy's BLAS (and PyTorch) threads.

Placeholder: filled in after measuring (see benchmarks/batchnorm.py).
"""


def configure():
    """Apply the thread settings; must run before Numba's first parallel launch."""
