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
