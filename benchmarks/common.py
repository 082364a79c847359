"""What the benchmark scripts share: timing a first call in a fresh process."""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


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
        import numba

        try:
            layer = numba.threading_layer()
        except ValueError:  # no parallel kernel has run yet
            layer = "not started"
        lines.append(f"Numba {numba.__version__}: threading layer {layer}, {numba.get_num_threads()} threads")
    except ImportError:
        lines.append("Numba not installed")
    return lines
