"""The one seam between the maths (minigrad/ops/) and how it runs.

An op's Function says *what* to compute; the modules here decide *how*, in one place
per op family: ``conv.py`` (conv2d's three products: NumPy im2col, the Numba im2col
kernels, or Winograd's F(4x4, 3x3)) and ``batchnorm.py`` (the fused batch norm: Numba
kernels or NumPy). conv2d's path is the fastest of a whole step timed once per problem
on the machine at hand (``cost.py``), not a threshold measured on one CPU.

Two backends:

* ``"fast"`` (the default): whichever path is timed fastest.
* ``"reference"``: every op on its readable NumPy code, no Numba, no array reuse. The
  tests run the fast paths against it, and the whole suite once under it.

Choose with the environment (``MINIGRAD_BACKEND=reference``, read at import) or for a
block of code, in the calling thread:

>>> import minigrad as mg
>>> from minigrad import backend
>>> with backend.use("reference"):
...     backend.current()
'reference'

Matrix products are NumPy's ``np.matmul`` on every path, with NumPy's BLAS on its own
threads as NumPy set it up: minigrad changes no process-wide BLAS setting, so a
product's result never depends on what runs beside it.
"""

import contextlib
import os
import threading

import numpy as np

NAMES = ("fast", "reference")

# The dtypes the Numba kernels are compiled for; anything else runs the reference.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _from_environment():
    name = os.environ.get("MINIGRAD_BACKEND", "") or "fast"
    if name not in NAMES:
        raise ValueError(f"MINIGRAD_BACKEND must be one of {NAMES}, got {name!r}")
    return name


DEFAULT = _from_environment()
_state = threading.local()


def current():
    """The backend in use in this thread: 'fast' or 'reference'."""
    return getattr(_state, "name", DEFAULT)


@contextlib.contextmanager
def use(name):
    """Run the block on backend ``name`` ('fast' or 'reference') in this thread."""
    if name not in NAMES:
        raise ValueError(f"backend.use: name must be one of {NAMES}, got {name!r}")
    previous = getattr(_state, "name", None)
    _state.name = name
    try:
        yield
    finally:
        if previous is None:
            del _state.name  # back to the default
        else:
            _state.name = previous
