"""The one memory API of the fast paths: scratch arrays, and arrays that outlive a call.

Why. A fresh array of more than about 100 KiB is often memory the allocator has just
given back to the system, so the first write to each 4 KiB page costs a page fault:
about 1 ms for 8 MiB here, as much as a batch-norm kernel that fills it. So:

* ``scratch(role, shape, dtype)``: an array that never leaves the function asking for
  it (a padded input, a raw product, a gradient's layout). The same array comes back
  on the next call with the same role, shape and dtype, as the last user left it; one
  set per thread. Never return one, or keep it on a ctx.
* ``empty(shape, dtype)``: ``np.empty`` for an array that outlives the call (an output,
  a kept column matrix, an input gradient). A large one is handed out again once
  nothing else refers to it: any view of an array refers to it, so an array that only
  this module refers to is one nobody can read any more. One set per thread.

Debug mode (``MINIGRAD_MEMORY_DEBUG=1`` in the environment, or ``with debug():``):
nothing is reused, and every array from here starts poisoned (NaN, or 0xA5 bytes for
integers) unless asked for zeros, so a caller that reads memory it did not write, or
keeps a scratch array past its call, gives wrong numbers that a test catches.
"""

import contextlib
import os
import sys
import sysconfig
import threading
from collections import OrderedDict

import numpy as np

# Below these sizes arrays come from the heap, which rarely faults.
SCRATCH_MIN_BYTES = 1 << 16
OUTLIVING_MIN_BYTES = 1 << 20
MAX_SCRATCH = 12
MAX_OUTLIVING = 8

_debug = [os.environ.get("MINIGRAD_MEMORY_DEBUG", "") not in ("", "0")]


def debugging():
    """Whether debug mode is on (see the module's docstring)."""
    return _debug[0]


@contextlib.contextmanager
def debug(enabled=True):
    """Turn debug mode on (or off) inside the block, for every thread."""
    previous = _debug[0]
    _debug[0] = bool(enabled)
    clear()
    try:
        yield
    finally:
        _debug[0] = previous
        clear()


def _poisoned(shape, dtype):
    array = np.empty(shape, dtype)
    if array.dtype.kind in "fc":
        array.fill(np.nan)
    else:
        array.view(np.uint8).fill(0xA5)
    return array


def _nbytes(shape, dtype):
    size = 1
    for length in shape:
        size *= int(length)
    return size * dtype.itemsize


def _unused_count():
    """What ``sys.getrefcount`` says, in ``_Arrays.outliving``'s own code shape, of an
    array only the list refers to (3 on CPython 3.11: the list, the local name, the
    argument). Measured rather than assumed; None where counts are not exact
    (free-threaded builds): then nothing outliving is reused."""
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None
    arrays = [np.empty(1)]
    for index in range(len(arrays)):
        array = arrays[index]
        return sys.getrefcount(array)


UNUSED = _unused_count()


class _Arrays(threading.local):
    def __init__(self):
        self.scratch = OrderedDict()
        self.outliving = []

    def outliving_get(self, shape, dtype):
        for index in range(len(self.outliving)):
            array = self.outliving[index]
            # no enumerate: its cached tuple would hold one more reference
            if array.shape == shape and array.dtype == dtype and sys.getrefcount(array) == UNUSED:
                self.outliving.append(self.outliving.pop(index))
                return array
        array = None
        array = np.empty(shape, dtype)
        self.outliving.append(array)
        if len(self.outliving) > MAX_OUTLIVING:
            del self.outliving[0]
        return array


_arrays = _Arrays()


def scratch(role, shape, dtype, zeros=False):
    """A scratch array for ``role`` (any hashable): as the last call with this role,
    shape and dtype left it; when new, zeros if ``zeros``, else uninitialized."""
    dtype, shape = np.dtype(dtype), tuple(int(n) for n in shape)
    if _debug[0]:
        return np.zeros(shape, dtype) if zeros else _poisoned(shape, dtype)
    if _nbytes(shape, dtype) < SCRATCH_MIN_BYTES:
        return np.zeros(shape, dtype) if zeros else np.empty(shape, dtype)
    key = (role, shape, dtype)
    array = _arrays.scratch.pop(key, None)
    if array is None:
        array = np.zeros(shape, dtype) if zeros else np.empty(shape, dtype)
        while len(_arrays.scratch) >= MAX_SCRATCH:
            _arrays.scratch.popitem(last=False)
    _arrays.scratch[key] = array
    return array


def empty(shape, dtype):
    """``np.empty(shape, dtype)`` for an array that outlives the call, reused when large
    and unreferenced (see the module's docstring)."""
    dtype, shape = np.dtype(dtype), tuple(int(n) for n in shape)
    if _debug[0]:
        return _poisoned(shape, dtype)
    if UNUSED is None or _nbytes(shape, dtype) < OUTLIVING_MIN_BYTES:
        return np.empty(shape, dtype)
    return _arrays.outliving_get(shape, dtype)


@contextlib.contextmanager
def isolated():
    """Inside the block this thread gets scratch arrays of its own, and those of the
    code around it are left as they were: for work that runs in the middle of another
    call (conv2d timing its paths on the first use of a problem, which may happen while
    the caller holds a scratch array of the same role)."""
    outer = _arrays.scratch
    _arrays.scratch = OrderedDict()
    try:
        yield
    finally:
        _arrays.scratch = outer


def held(scratch=True, outliving=True):
    """The arrays this thread holds for reuse, for tests."""
    return (list(_arrays.scratch.values()) if scratch else []) + (list(_arrays.outliving) if outliving else [])


def clear():
    """Forget every array held for reuse in this thread."""
    _arrays.scratch.clear()
    _arrays.outliving.clear()
