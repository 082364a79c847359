"""Where a training step's time goes: per op (forward and backward apart) and phase.

Run (OpenBLAS core-type overrides unset, for the benchmark only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_step.py [--models mlp,cnn,block]

Every Function's forward and backward is wrapped with a timer that counts its own time
(a backward made of Tensor ops runs other Functions' forwards: their time is theirs,
not the backward's). The rest of the step, outside every forward and backward, is
Python: the engine's sweep, module calls, argument checks, the optimizer. Timers cost
about a microsecond a call, so small ops look a little slower than they are. The
optimizer step is timed on its own. Figures are medians over repeats, per step.
"""

import argparse
import collections
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_step  # noqa: E402  (sets sys.path for minigrad too)

import minigrad as mg  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402

_stack = []
_totals = collections.defaultdict(float)
_counts = collections.Counter()


def _timed(key, method):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        _stack.append(0.0)
        try:
            return method(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            children = _stack.pop()
            _totals[key] += elapsed - children
            _counts[key] += 1
            if _stack:
                _stack[-1] += elapsed
    return staticmethod(wrapper)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def instrument():
    for cls in set(_subclasses(mg.Function)):
        for phase in ("forward", "backward"):
            if phase in cls.__dict__:
                setattr(cls, phase, _timed((cls.__name__, phase), cls.__dict__[phase].__func__))


def profile(name, impl, repeats):
    mg.manual_seed(0)
    model = train_step.minigrad_model(name, impl)
    opt = train_step.minigrad_optimizer(name, model.parameters())
    x_data, y_data = train_step.batch(name)
    x, y = mg.tensor(x_data), mg.tensor(y_data)
    phases = collections.defaultdict(list)
    per_op = collections.defaultdict(list)
    for repeat in range(repeats + 2):
        _totals.clear()
        _counts.clear()
        t0 = time.perf_counter()
        opt.zero_grad()
        logits = model(x)
        t1 = time.perf_counter()
        loss = F.cross_entropy(logits, y)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if repeat < 2:
            continue
        for phase, seconds in (("model forward", t1 - t0), ("cross_entropy forward", t2 - t1),
                               ("backward sweep", t3 - t2), ("optimizer step", t4 - t3),
                               ("whole step", t4 - t0)):
            phases[phase].append(seconds)
        inside = sum(_totals.values())
        phases["outside every forward/backward (Python) less the optimizer"].append(
            (t3 - t0) - inside)
        for key in set(per_op) | set(_totals):
            per_op[key].append(_totals.get(key, 0.0))
        counts = dict(_counts)
    return phases, per_op, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--models", default="mlp,cnn,block")
    parser.add_argument("--impl", default="fused")
    args = parser.parse_args()
    instrument()
    for name in args.models.split(","):
        phases, per_op, counts = profile(name, args.impl, args.repeats)
        whole = statistics.median(phases["whole step"])
        print(f"\n{name} ({args.impl}), median of {args.repeats} steps: {whole * 1e3:.2f} ms")
        for phase, values in phases.items():
            if phase != "whole step":
                ms = statistics.median(values) * 1e3
                print(f"  {phase:58s} {ms:7.3f} ms  {ms / whole / 10:5.1f}%")
        print("  per op, own time (calls per step):")
        rows = sorted(((statistics.median(v), key) for key, v in per_op.items()), reverse=True)
        for seconds, (op, phase) in rows:
            ms = seconds * 1e3
            if ms >= 0.005:
                print(f"    {op + '.' + phase:40s} {ms:7.3f} ms  {ms / whole / 10:5.1f}%  "
                      f"({counts.get((op, phase), 0)})")


if __name__ == "__main__":
    main()
