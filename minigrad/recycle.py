"""Large arrays handed out again once nothing refers to them.

A fresh array of a few megabytes is, more often than not, memory the allocator has just
given back to the system, so the first write to each 4 KiB page costs a page fault:
about 1 ms for 8 MiB here, as much as the batch-norm kernels that fill it. The arrays
that outlive one call (conv2d's columns, outputs, input gradients; batch norm's y and
dx) come from here instead.
"""

import sys
import sysconfig
import threading

import numpy as np

MIN_BYTES = 1 << 20  # smaller arrays come from the heap and rarely fault


def _unused_count():
    """What ``sys.getrefcount`` says, in ``Recycler.get``'s own code shape, of an array
    only the list refers to (3 on CPython 3.11: the list, the local name, the argument).
    Measured rather than assumed, since interpreters count borrowed references
    differently; None where counts are not exact (free-threaded builds): no recycling."""
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None
    arrays = [np.empty(1)]
    for index in range(len(arrays)):
        array = arrays[index]
        return sys.getrefcount(array)


UNUSED = _unused_count()


class Recycler(threading.local):
    """Arrays handed out again once nothing but this list refers to them.

    For large arrays that outlive the call that makes them: a scratch workspace cannot
    hold them (a second call would overwrite them while still in use). Any view of an
    array refers to it, so an array that only this list refers to is one that nothing
    can read any more: handing it out again is invisible. One set per thread; the least
    recently used array goes first.
    """

    MAX_ARRAYS = 8

    def __init__(self):
        self.arrays = []

    def get(self, shape, dtype):
        dtype = np.dtype(dtype)
        if UNUSED is None:
            return np.empty(shape, dtype)
        for index in range(len(self.arrays)):
            array = self.arrays[index]
            # no enumerate: its cached tuple would hold one more reference
            if array.shape == shape and array.dtype == dtype and sys.getrefcount(array) == UNUSED:
                self.arrays.append(self.arrays.pop(index))
                return array
        array = None
        array = np.empty(shape, dtype)
        self.arrays.append(array)
        if len(self.arrays) > self.MAX_ARRAYS:
            del self.arrays[0]
        return array

    def clear(self):
        self.arrays.clear()


recycler = Recycler()


def empty(shape, dtype):
    """``np.empty(shape, dtype)``, recycled when large (see ``Recycler``)."""
    dtype = np.dtype(dtype)
    if int(np.prod(shape)) * dtype.itemsize < MIN_BYTES:
        return np.empty(shape, dtype)
    return recycler.get(tuple(shape), dtype)
