"""The one thread policy of minigrad's Numba kernels, applied by the ``kernel`` decorator.

What the user gets:

* Python threads: any number may call minigrad at once. At most one of them runs the
  parallel kernels at a time; the others meanwhile run the same kernels compiled
  without ``parallel`` (on their own thread), so no threading layer is ever entered
  concurrently (Numba's ``workqueue`` layer aborts the process when it is).
* fork: a child forked from a process that has run a parallel kernel runs the one-thread
  compilations only (GNU OpenMP kills a forked child that starts a parallel region), so
  ``os.fork`` and ``multiprocessing``'s fork start method work; a ``spawn`` child starts
  afresh and runs in parallel.
* the same numbers whatever runs beside: every kernel's result is bitwise independent
  of the thread count (work is split per channel, per row or into a fixed number of
  chunks, never into one part per thread), so the one-thread and parallel compilations
  agree bit for bit, and a result never depends on which of them ran.
* small inputs run on one thread: waking the workers costs more than it saves. The
  size above which a kernel runs in parallel comes from a calibration made once per
  process at the first parallel call (the cost of an empty parallel launch, after a
  pause as between the kernels of a step, against the cost of moving one element on
  one thread), not from a constant measured on one CPU.

The threading layer: Numba's ``omp`` first (its workers sleep between kernels with
``OMP_WAIT_POLICY=PASSIVE``, set here unless the user set it, read by OpenMP when it
loads: spinning workers on 2 cores halved everything else), then ``tbb``, then
``workqueue``; all three are safe under the policy above. A user who sets
``NUMBA_THREADING_LAYER`` keeps their choice. NumPy's BLAS threads are left as NumPy
set them (see minigrad/backend/__init__.py).
"""

import os
import threading
import time
import types

import numba
import numpy as np

_configured = False


def configure():
    """Choose Numba's threading layer and OpenMP's wait policy (before the first launch)."""
    global _configured
    if _configured:
        return
    _configured = True
    if not os.environ.get("NUMBA_THREADING_LAYER"):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


configure()

# The process that first ran a parallel kernel; in any other (a forked child) the
# kernels run on one thread.
_parallel_pid = None
# Held while a thread runs a parallel kernel; a thread that finds it taken runs serially.
_busy = threading.Lock()
_threshold = None
_ndarray = np.ndarray


def layer():
    """The threading layer in use ('omp', 'tbb' or 'workqueue'), or None before the first
    parallel launch (or under NUMBA_DISABLE_JIT)."""
    try:
        return numba.threading_layer()
    except ValueError:
        return None


def parallel_allowed():
    """Whether this process may start a parallel region (False in a forked child of a
    process that has)."""
    return _parallel_pid is None or _parallel_pid == os.getpid()


def _fork_reset():
    # The lock may have been held by a thread that does not exist in the child.
    global _busy
    _busy = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fork_reset)


class Kernel:
    """A Numba kernel compiled twice, ``parallel`` and ``serial`` (``prange`` as
    ``range``); calling it runs the one the thread policy picks (see the module)."""

    def __init__(self, function, options):
        options = dict(options)
        # The work per element against the calibration's copy of one element: a kernel
        # doing more (Adam's square root and division) pays for a parallel launch sooner.
        self.cost = options.pop("cost", 1)
        self.__wrapped__ = function
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__
        self.parallel = numba.njit(parallel=True, cache=True, **options)(function)
        # A copy under another name: Numba's cache files are named after the function,
        # and the parallel and serial machine code must not share one.
        twin = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                                  function.__defaults__, function.__closure__)
        twin.__qualname__ = function.__qualname__ + "_serial"
        twin.__module__ = function.__module__
        self.serial = numba.njit(parallel=False, cache=True, **options)(twin)

    def __call__(self, *args):
        global _parallel_pid
        if numba.config.DISABLE_JIT or not parallel_allowed():
            return self.serial(*args)
        # a plain loop: a step makes dozens of these calls, and max() over a generator
        # cost four times as much
        size = 0
        for arg in args:
            if isinstance(arg, _ndarray) and arg.size > size:
                size = arg.size
        threshold = _threshold if _threshold is not None else parallel_min_size()
        if size * self.cost < threshold or not _busy.acquire(blocking=False):
            return self.serial(*args)
        try:
            _parallel_pid = os.getpid()
            return self.parallel(*args)
        finally:
            _busy.release()


def kernel(function=None, **options):
    """Decorator: a ``Kernel`` of ``function`` (``njit`` options such as ``fastmath``;
    ``cost``, the work per element as a multiple of copying one, lowers the size at
    which it runs in parallel)."""
    if function is None:
        return lambda f: Kernel(f, options)
    return Kernel(function, options)


# ---- the calibration ----------------------------------------------------------------
@numba.njit(parallel=True, cache=True)
def _launch(out):
    for i in numba.prange(out.size):
        out[i] = i


@numba.njit(cache=True)
def _copy(source, target):
    for i in range(source.size):
        target[i] = source[i]


def count():
    """The number of threads a parallel kernel runs on."""
    return numba.get_num_threads()


def median_seconds(call, repeats=15, pause=0.0):
    """The median time of ``call``, each call after ``pause`` seconds of busy waiting."""
    times = []
    for _ in range(repeats):
        resume = time.perf_counter() + pause
        while time.perf_counter() < resume:
            pass
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


# Python's time between two kernels of a training step is some tens of microseconds
# to a millisecond (a matrix product).
LAUNCH_PAUSE = 3e-4


def calibrate():
    """The element count above which parallel kernels pay: where the time saved on
    ``threads - 1`` of ``threads`` parts of the work exceeds one parallel launch."""
    threads = numba.get_num_threads()
    if threads < 2:
        return float("inf")
    slots = np.empty(threads)
    source, target = np.ones(1 << 16), np.empty(1 << 16)
    _launch(slots), _copy(source, target)  # compiled (or loaded) before timing
    # Timed as kernels are launched in a training step, after other work: by then the
    # sleeping workers (OMP_WAIT_POLICY=PASSIVE) must be woken, which on a virtual
    # machine costs tens of microseconds; back-to-back launches find them still awake.
    launch = median_seconds(lambda: _launch(slots), pause=LAUNCH_PAUSE)
    element = median_seconds(lambda: _copy(source, target)) / source.size
    size = launch / max(element * (1 - 1 / threads), 1e-12)
    return int(min(max(size, 1 << 12), 1 << 22))


def parallel_min_size():
    """The calibrated size (see ``calibrate``), measured on first use in each process."""
    global _threshold, _parallel_pid
    if _threshold is None:
        with _busy:
            if _threshold is None:
                _parallel_pid = os.getpid()
                _threshold = calibrate()
    return _threshold
