"""One dtype rule for every op: PyTorch's type promotion.

* Categories rank bool < integer < floating. Two operands of one rank class (both with
  dimensions, or both 0-d) give the higher category; within a category, the wider type
  (NumPy's integer promotion; float16 < float32 < float64).
* A 0-d operand, or a Python or NumPy scalar, changes the result only when it is of a
  higher category than the operands with dimensions: ``float32 (3,) * float64 0-d`` stays
  float32, ``int64 (3,) * float32 0-d`` is float32.
* A Python float next to integers gives the default dtype, float32 (``Tensor._operand``
  makes the scalar a 0-d float32 array); integer division and float functions of integers
  (exp, log, sqrt, tanh, sigmoid) give float32 too.

So ``int64 * float32`` is float32, and nothing upcasts float32 to float64 unless a float64
tensor with dimensions takes part (then the result is float64, as in PyTorch and NumPy).
"""

import numpy as np

DEFAULT_DTYPE = np.dtype(np.float32)


def promote_types(a, b):
    """The result dtype of two operands of the same rank class."""
    if a == b:
        return a
    if a.kind == "b":
        return b
    if b.kind == "b":
        return a
    a_float, b_float = a.kind == "f", b.kind == "f"
    if a_float != b_float:
        return a if a_float else b  # integer with float: the float type, whatever its width
    return np.promote_types(a, b)


def _combine(dimensioned, zero_dim):
    """A 0-d operand counts only when of a higher category (PyTorch's combine_categories)."""
    if dimensioned.kind == "f":
        return dimensioned
    if dimensioned.kind == "b" or zero_dim.kind == "f":
        return promote_types(dimensioned, zero_dim)
    return dimensioned


_results = {}  # (dtype, is 0-d) per operand -> result dtype


def result_type(arrays):
    """The dtype an op on ``arrays`` computes in, by the rule above."""
    key = tuple([(a.dtype, a.ndim == 0) for a in arrays])
    found = _results.get(key)
    if found is None:
        dimensioned = zero_dim = None
        for dtype, is_zero_dim in key:
            if is_zero_dim:
                zero_dim = dtype if zero_dim is None else promote_types(zero_dim, dtype)
            else:
                dimensioned = dtype if dimensioned is None else promote_types(dimensioned, dtype)
        if dimensioned is None or zero_dim is None:
            found = zero_dim if dimensioned is None else dimensioned
        else:
            found = _combine(dimensioned, zero_dim)
        _results[key] = found
    return found


def floating(array):
    """``array`` itself if floating, else as the default float dtype (for exp, division...)."""
    return array if array.dtype.kind == "f" else array.astype(DEFAULT_DTYPE)
