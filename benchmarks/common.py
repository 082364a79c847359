"""What the benchmark scripts share: the machine report, alternating timings, and
timing a first call in a fresh process."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# The environment before minigrad's import changes it (OMP_WAIT_POLICY): the one PyTorch
# runs with, in a process of its own (pytorch_process.py). The benchmarks import this
# module before minigrad.
ORIGINAL_ENV = dict(os.environ)


# Seconds of untimed calls at the start of each turn. After the pause between turns a
# virtual CPU needs tens of milliseconds of work to run at full speed again (measured:
# a batch-norm step 3.2 ms for its first calls against 2.1 ms when warm); a training
# loop runs warm, and so should every candidate here.
WARMUP = 0.2


def timed_runs(fn, n, warmup=WARMUP):
    """The seconds of each of ``n`` back-to-back calls of ``fn``, after calling it
    untimed for ``warmup`` seconds (at least once)."""
    end = time.perf_counter() + warmup
    fn()
    while time.perf_counter() < end:
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def local_timer(fn):
    """A function of ``n`` giving the seconds of ``n`` back-to-back calls of ``fn``
    (``timed_runs``)."""
    return lambda n: timed_runs(fn, n)


# Seconds between turns: long enough for the threads of the turn before to stop spinning
# (OpenBLAS's wait for work before sleeping is 2**28 cycles, about 0.1 s; OpenMP's a few
# ms), so that one library's idle threads do not compete with the other's work.
SETTLE = 0.25


def alternating(timers, repeats, block=5, settle=SETTLE):
    """``(medians, times)`` in seconds per candidate. ``timers`` maps each name to a
    function of ``n`` giving the seconds of ``n`` back-to-back runs (``local_timer``, or
    ``PyTorchProcess.timer``); the candidates take turns, ``block`` runs at a time, until
    each has run ``repeats`` times, so that a busy moment of a shared machine hits them
    alike while each library's thread pool stays as warm as in a training loop; each
    turn starts ``settle`` seconds after the last one ended, and warms up first."""
    times = {name: [] for name in timers}
    while any(len(done) < repeats for done in times.values()):
        for name, run in timers.items():
            time.sleep(settle)
            times[name].extend(run(min(block, repeats - len(times[name]))))
    return {name: statistics.median(done) for name, done in times.items()}, times


def first_call_seconds(code, cache_dir):
    """Run ``code`` (which prints the seconds it measured) in a fresh process whose
    Numba cache is ``cache_dir``, and return that number."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip())


def compile_times(code):
    """``(cold, warm)``: ``code``'s first-call seconds with an empty Numba cache, then
    with the cache that first run filled."""
    with tempfile.TemporaryDirectory() as cache_dir:
        return first_call_seconds(code, cache_dir), first_call_seconds(code, cache_dir)


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def machine_report():
    """Lines naming the CPU, the BLAS and OpenMP libraries loaded (threadpoolctl's report)
    and Numba's threading layer (``not started`` before the first parallel kernel)."""
    import numpy as np
    import threadpoolctl

    lines = [f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; NumPy {np.__version__}"]
    for pool in threadpoolctl.threadpool_info():
        lines.append(
            f"BLAS/OpenMP: {pool.get('internal_api')} {pool.get('version')} "
            f"({pool.get('threading_layer', '-')} threading, {pool.get('num_threads')} threads, "
            f"{pool.get('architecture', '-')}) {os.path.basename(pool.get('filepath', ''))}"
        )
    try:
        # minigrad's thread policy (OpenMP's workers sleep between kernels) is applied
        # when its kernels load, which must come before anything starts Numba's threads:
        # numba.get_num_threads() below does
        import minigrad.runtime.threads  # noqa: F401
        import numba

        try:
            layer = numba.threading_layer()
        except ValueError:  # no parallel kernel has run yet
            layer = "not started"
        lines.append(f"Numba {numba.__version__}: threading layer {layer}, {numba.get_num_threads()} threads")
    except ImportError:
        lines.append("Numba not installed")
    return lines
