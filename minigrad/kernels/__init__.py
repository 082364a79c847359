"""Numba kernels: loop bodies over NumPy arrays, no Tensor inside.

This package is imported only when a fused op first runs, so ``import minigrad`` does
not import Numba. Each kernel is a ``minigrad.runtime.threads.kernel``: the thread
policy (parallel or one thread, threads and fork) is applied there, in one place.
"""
