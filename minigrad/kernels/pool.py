"""Max pooling kernels over (N * C, H, W) planes, one plane per task.

The same rules as the NumPy reference (minigrad/backend/reference.py), bit for bit: a
window's arg-max is the first of equal values and a NaN wins (the last NaN), padding
never wins, and a window of real values all -inf still has one (its first real
element), as PyTorch. ``choice`` holds each window's winning kernel offset ``i * kW + j``.
"""

from numba import njit, prange

from ..runtime.threads import kernel


@njit(cache=True, inline="always")
def _better(v, value):
    return v > value or v != v


@kernel
def max_pool(x, kh, kw, sh, sw, ph, pw, best, choice):
    """Writes ``best`` (P, OH, OW), the max of each window of ``x`` (P, H, W), and
    ``choice``, its offset in the window."""
    planes, h, w = x.shape
    _, oh, ow = best.shape
    for p in prange(planes):
        plane = x[p]
        for r in range(oh):
            top = r * sh - ph
            first_i, end_i = max(0, -top), min(kh, h - top)  # the window's real rows
            for q in range(ow):
                left = q * sw - pw
                first_j, end_j = max(0, -left), min(kw, w - left)
                if kh == 2 and kw == 2 and first_i == 0 and first_j == 0 and end_i == 2 and end_j == 2:
                    # The common whole 2x2 window unrolled, with selects for branches: on
                    # random data the loop's branches mispredict, twice as slow.
                    value, winner = plane[top, left], 0
                    v = plane[top, left + 1]
                    take = _better(v, value)
                    value, winner = (v, 1) if take else (value, winner)
                    v = plane[top + 1, left]
                    take = _better(v, value)
                    value, winner = (v, 2) if take else (value, winner)
                    v = plane[top + 1, left + 1]
                    take = _better(v, value)
                    value, winner = (v, 3) if take else (value, winner)
                else:
                    value = plane[top + first_i, left + first_j]
                    winner = first_i * kw + first_j
                    for i in range(first_i, end_i):
                        for j in range(first_j, end_j):
                            v = plane[top + i, left + j]
                            if _better(v, value):
                                value = v
                                winner = i * kw + j
                best[p, r, q] = value
                choice[p, r, q] = winner


@kernel
def max_pool_scatter(grad, choice, kh, kw, sh, sw, ph, pw, dx):
    """Adds each window's gradient ``grad`` (P, OH, OW) to its arg-max in ``dx`` (P, H, W),
    which starts at zero. Windows that overlap (a stride below the kernel) share input
    pixels; their gradients are then added kernel offset by kernel offset, the order
    of the reference's sums, so the bits agree."""
    planes, oh, ow = grad.shape
    overlap = sh < kh or sw < kw
    for p in prange(planes):
        target = dx[p]
        target[:, :] = 0
        if not overlap:  # one window per pixel: one pass
            for r in range(oh):
                for q in range(ow):
                    offset = choice[p, r, q]
                    i = offset // kw
                    target[r * sh - ph + i, q * sw - pw + offset - i * kw] += grad[p, r, q]
            continue
        for offset in range(kh * kw):
            i = offset // kw
            j = offset - i * kw
            for r in range(oh):
                row = r * sh - ph + i
                for q in range(ow):
                    if choice[p, r, q] == offset:
                        target[row, q * sw - pw + j] += grad[p, r, q]
