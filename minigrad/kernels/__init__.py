"""Numba kernels: pure functions over NumPy arrays, no Tensor inside.

This package is imported only when a fused op first runs, so ``import minigrad`` does
not import Numba. Importing it applies the thread settings of ``threads.py`` before
Numba starts its worker pool.
"""

from . import threads

threads.configure()
