"""Which of conv2d's paths runs a convolution: the fastest, timed on this machine.

conv2d can run three ways (minigrad/backend/conv.py): im2col in NumPy, im2col on the
Numba kernels, or Winograd's F(4x4, 3x3) on the kernels. Which is fastest depends on
the CPU, its caches and cores, and on the shapes: a model with a few constants measured
on other shapes (an earlier version of this file) missed by 2x either way, since
col2im's scatter-add and Winograd's layout changes run at speeds that change with the
image size. So nothing here is predicted: the first convolution of each problem large
enough to matter (``CALIBRATE_MIN`` column elements) times a whole step (forward, input
gradient, weight gradient) on each possible path, on random data of its shapes and
dtypes (one untimed run each, then ``TRIALS`` rounds taking the paths in turn), and
keeps the fastest for the process (a problem is the shape of one image, the filters
and the dtypes: the batch size a problem was first timed at stands for all). One
block conv layer of a training step, (64, 32, 16, 16) with 32 filters, takes about a
tenth of a second once.

The paths agree to rounding (tests/test_backend.py), so the choice changes no result
beyond the last bits of float32. ``choices()`` returns what was chosen, with the times.
"""

import os
import threading
import time

import numpy as np

from ..runtime import memory

# Below this many column elements (C*kH*kW*N*OH*OW) NumPy's im2col is taken without
# timing: a few microseconds of work, where a Numba call's fixed cost alone is more.
# It also keeps Numba unimported for small convolutions.
CALIBRATE_MIN = 1 << 14

# Timed rounds per path, after one untimed run (see ``fastest``).
TRIALS = 3

_choices = {}  # problem -> (path, {path: seconds})
_lock = threading.Lock()
_trial = threading.local()  # the path being timed, in the timing thread


def _fork_reset():
    # A fork while another thread was timing leaves the lock held in the child, by a
    # thread that does not exist there.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fork_reset)


def trial_path():
    """The path forced while this thread times one (else None)."""
    return getattr(_trial, "path", None)


def _timed(path, run_step):
    _trial.path = path
    try:
        start = time.perf_counter()
        run_step()
        return time.perf_counter() - start
    finally:
        _trial.path = None


def fastest(problem, candidates, make_step):
    """The fastest of ``candidates`` for ``problem`` (a hashable key). The first time
    ``problem`` is seen, ``make_step()`` gives the function to time (called only then:
    making it makes the data), and each candidate runs it: one untimed run each
    (it compiles or loads the kernels), then ``TRIALS`` rounds taking every candidate
    in turn, so that a busy moment of the machine hits them alike; each keeps its
    fastest round."""
    chosen = _choices.get(problem)
    if chosen is None:
        with _lock:
            chosen = _choices.get(problem)
            if chosen is None:
                # Timing may start in the middle of a convolution whose caller holds
                # scratch arrays (an upstream gradient's layout): the trial steps get
                # scratch arrays of their own.
                with memory.isolated():
                    run_step = make_step()
                    for path in candidates:
                        _timed(path, run_step)
                    times = dict.fromkeys(candidates, float("inf"))
                    for _ in range(TRIALS):
                        for path in candidates:
                            times[path] = min(times[path], _timed(path, run_step))
                chosen = _choices[problem] = (min(times, key=times.get), times)
    return chosen[0]


def choices():
    """{problem: (path, {path: seconds of one step})} for every problem timed so far."""
    return dict(_choices)
