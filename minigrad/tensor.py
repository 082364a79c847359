"""Tensor: a NumPy array, its gradient, and the node of the graph that made it."""

import warnings
from collections import namedtuple

import numpy as np

from . import autograd
from .aliases import torch_names
from .ops import elementwise as ew
from .ops import binary, linalg, products, rearrange, reduce, special, unary
from .ops import scalar as scalar_ops, shape as shape_ops

from . import dtypes
from .dtypes import DEFAULT_DTYPE
_SCALARS = (int, float, bool, np.generic)
_REALS = (int, float, np.integer, np.floating)  # bool is an int; np.float64 a float


# Tensors hold booleans, integers and floats; strings, objects, complex numbers, dates... do not.
_KINDS = "biuf"


def _to_array(data, dtype):
    """A new array: Python floats become float32, Python ints int64; a NumPy array (or a
    Tensor) is copied and keeps its dtype, as ``torch.tensor`` (``from_numpy`` shares)."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        array = np.array(data, dtype=dtype)
    elif dtype is not None:
        array = np.array(data, dtype=dtype)
    else:
        array = np.array(data)
        if not isinstance(data, np.generic):
            if array.dtype == np.float64:
                array = array.astype(DEFAULT_DTYPE)
            elif array.dtype.kind in "iu":
                array = array.astype(np.int64, copy=False)
    return _checked_kind(array, "tensor")


def _checked_kind(array, op_name):
    if array.dtype.kind not in _KINDS:
        raise TypeError(
            f"{op_name}: data of dtype {array.dtype} cannot make a tensor; tensors hold "
            "bool, integers and float16/float32/float64"
        )
    return array


def from_numpy(array):
    """A Tensor that shares ``array``'s memory (a change to either shows in both), as
    ``torch.from_numpy``; ``mg.tensor`` copies.

    >>> import numpy as np, minigrad as mg
    >>> a = np.zeros(2, dtype=np.float32)
    >>> t = mg.from_numpy(a)
    >>> a[0] = 5.0
    >>> t.tolist()
    [5.0, 0.0]
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(_checked_kind(array, "from_numpy"))


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    Parameters
    ----------
    data : scalar, (nested) list, numpy.ndarray or Tensor
        Python floats become float32, Python ints int64; a NumPy array keeps its dtype
        and is copied (``mg.from_numpy`` shares its memory). Tensors hold bool, integers
        and float16/32/64; other data (strings, objects, complex) is a TypeError.
    requires_grad : bool
        Record operations on this tensor so ``backward`` can fill ``.grad``.
    dtype : optional
        Convert the data to this dtype.

    Examples
    --------
    >>> import minigrad as mg
    >>> x = mg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [2.0, 4.0, 6.0]
    """

    # ``_versions`` is a one-element list counting in-place changes to the memory. A tensor,
    # its views (reshape, transpose, getitem) and its detached aliases hold the same list,
    # so a change through any of them makes a graph that saved one of them stale.
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_versions", "__weakref__")
    __array_ufunc__ = None  # NumPy operands on the left defer to our reflected operators
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _to_array(data, dtype)
        self.grad = None
        self._ctx = None
        self._versions = [0]  # see __slots__ and Context.save_for_backward
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # A constant Tensor around an existing array (no checks, no copy): the engine's.
    _wrap = staticmethod(autograd.constant)

    def _alias(self):
        """A constant Tensor on the same memory, sharing the version counter."""
        tensor = Tensor._wrap(self.data)
        tensor._versions = self._versions
        return tensor

    @property
    def _version(self):
        """How many times the memory was changed in place, through this tensor or an alias."""
        return self._versions[0]

    @_version.setter
    def _version(self, value):
        self._versions[0] = value

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating point tensors can require grad, this one is {self.data.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    # ---- properties -------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        """The name of the op that made this tensor (``"Mul"``), or None for a leaf.

        >>> import minigrad as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * 3).grad_fn, x.grad_fn
        ('Mul', None)
        """
        return None if self._ctx is None else self._ctx.function.__name__

    @property
    def T(self):
        return self.transpose()

    def numel(self):
        return self.data.size

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: the tensor has {self.data.size} elements, not one (shape {self.shape})")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def numpy(self):
        return self.data

    def detach(self):
        """The same data, cut from the graph (an in-place change to either is seen by both)."""
        return self._alias()

    def _unchanged(self):
        """An op that changes nothing: the tensor itself, or under no_grad a view cut from
        the graph (so that, as for every other op there, the result does not require grad)."""
        return self if autograd.is_grad_enabled() else self._alias()

    def astype(self, dtype):
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self._unchanged()
        return ew.Cast.apply(self, dtype=dtype)

    def float(self):
        """The tensor as float32 (differentiable), as PyTorch's ``.float()``."""
        return self.astype(np.float32)

    def double(self):
        """The tensor as float64 (differentiable), as PyTorch's ``.double()``."""
        return self.astype(np.float64)

    def to(self, *args, dtype=None, device=None):
        """``to(dtype)``, ``to("cpu")`` or both: a cast, or the tensor itself.

        minigrad runs on the CPU only, so the device ``"cpu"`` changes nothing; any other
        device is a ValueError.

        >>> import minigrad as mg
        >>> mg.ones(2).to("cpu", mg.float64).dtype
        dtype('float64')
        """
        for arg in args:
            if isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xpu"):
                device = arg
            else:
                if dtype is not None:
                    raise TypeError(f"to: two dtypes given ({dtype!r} and {arg!r})")
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"to: minigrad runs on the CPU only; device {device!r} is not available")
        return self._unchanged() if dtype is None else self.astype(dtype)

    @torch_names
    def size(self, axis=None):
        """The shape, or the length of axis ``axis`` (as PyTorch's ``.size(dim)``)."""
        if axis is None:
            return self.shape
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"size: axis must be an int or None, got {axis!r}")
        if self.ndim == 0:
            raise np.exceptions.AxisError(f"size: axis {axis} is out of range for a 0-d tensor")
        (axis,) = reduce.normalize_axis(axis, self.ndim, "size")
        return self.shape[axis]

    def view(self, *shape):
        """Same as ``reshape`` (minigrad does not track memory layout, so every view works)."""
        return self.reshape(*shape)

    @torch_names
    def argmax(self, axis=None, keepdims=False):
        """Index of the largest value (of the flattened tensor when ``axis`` is None), int64;
        the first on ties, as NumPy and PyTorch. Not differentiable."""
        return self._arg_extreme(np.argmax, axis, keepdims)

    @torch_names
    def argmin(self, axis=None, keepdims=False):
        """Index of the smallest value; see ``argmax``."""
        return self._arg_extreme(np.argmin, axis, keepdims)

    def _arg_extreme(self, find, axis, keepdims):
        name = find.__name__
        if self.data.size == 0:
            raise ValueError(f"{name}: the tensor of shape {self.shape} is empty")
        if axis is not None:
            if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
                raise TypeError(f"{name}: axis must be an int or None, got {axis!r}")
            (axis,) = reduce.normalize_axis(axis, self.ndim, name) or (None,)
        return Tensor._wrap(np.asarray(find(self.data, axis=axis, keepdims=keepdims), dtype=np.int64))

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward``, as PyTorch
        (a leaf keeps its gradient anyway).

        >>> import minigrad as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x * 3
        >>> h.retain_grad()
        >>> (h * h).sum().backward()
        >>> h.grad.tolist()
        [6.0, 12.0]
        """
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad, so it has no gradient to keep")
        if self._ctx is not None:
            autograd.retain_grad(self)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = ""
        if self.dtype not in (DEFAULT_DTYPE, np.dtype(np.int64), np.dtype(bool)):
            extras += f", dtype={self.dtype}"
        if self._ctx is not None:
            extras += f", grad_fn={self._ctx.function.__name__}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"Tensor({body}{extras})"

    # ---- autograd -----------------------------------------------------------------
    def backward(self, grad=None):
        """Reverse-mode sweep from this tensor; gradients accumulate into leaves' ``.grad``.

        ``grad`` may be omitted only for one-element tensors.
        """
        autograd.backward(self, grad)

    # ---- operands -----------------------------------------------------------------
    def _operand(self, other):
        """``other`` as a Tensor; a Python or NumPy scalar takes this tensor's float dtype."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, _SCALARS):
            if self.data.dtype.kind == "f":
                return Tensor._wrap(np.array(other, dtype=self.data.dtype))
            if isinstance(other, (float, np.floating)):
                return Tensor._wrap(np.array(other, dtype=DEFAULT_DTYPE))
        return Tensor(other)

    def _scalar(self, other):
        """``other`` as a NumPy scalar of this tensor's dtype, for the one-input ops of
        ops/scalar.py, when it is a real number and this tensor is floating; else None."""
        if isinstance(other, _REALS):
            dtype = self.data.dtype
            if dtype.kind == "f":
                return dtype.type(other)
        return None

    # ---- arithmetic ---------------------------------------------------------------
    # A real number with a floating tensor takes ops/scalar.py's one-input nodes (the
    # same results as the general ops, at half the cost per op); anything else, the
    # general two-input ops of ops/elementwise.py.
    def __add__(self, other):
        if isinstance(other, Tensor):
            return ew.Add.apply(self, other)
        scalar = self._scalar(other)
        if scalar is not None:
            return scalar_ops.Add.apply(self, scalar=scalar)
        return ew.Add.apply(self, self._operand(other))

    def __radd__(self, other):
        scalar = self._scalar(other)
        if scalar is not None:
            return scalar_ops.Add.apply(self, scalar=scalar)
        return ew.Add.apply(self._operand(other), self)

    def __sub__(self, other):
        if isinstance(other, Tensor):
            return ew.Sub.apply(self, other)
        scalar = self._scalar(other)
        if scalar is not None:
            return scalar_ops.Sub.apply(self, scalar=scalar, reverse=False)
        return ew.Sub.apply(self, self._operand(other))

    def __rsub__(self, other):
        scalar = self._scalar(other)
        if scalar is not None:
            return scalar_ops.Sub.apply(self, scalar=scalar, reverse=True)
        return ew.Sub.apply(self._operand(other), self)

    def __mul__(self, other):
        if isinstance(other, Tensor):
            return ew.Mul.apply(self, other)
        scalar = self._scalar(other)
        if scalar is not None:
            return scalar_ops.Mul.apply(self, scalar=scalar)
        return ew.Mul.apply(self, self._operand(other))

    def __rmul__(self, other):
        scalar = self._scalar(other)
        if scalar is not None:
            return scalar_ops.Mul.apply(self, scalar=scalar)
        return ew.Mul.apply(self._operand(other), self)

    def __truediv__(self, other):
        if isinstance(other, Tensor):
            return ew.Div.apply(self, other)
        scalar = self._scalar(other)
        if scalar is not None:
            return scalar_ops.Div.apply(self, scalar=scalar)
        return ew.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other):
        return ew.Div.apply(self._operand(other), self)

    def __pow__(self, other):
        return ew.Pow.apply(self, self._operand(other))

    def __rpow__(self, other):
        return ew.Pow.apply(self._operand(other), self)

    def __matmul__(self, other):
        return linalg.MatMul.apply(self, self._operand(other))

    def __rmatmul__(self, other):
        return linalg.MatMul.apply(self._operand(other), self)

    def __mod__(self, other):
        return binary.Remainder.apply(self, self._operand(other))

    def __rmod__(self, other):
        return binary.Remainder.apply(self._operand(other), self)

    def __floordiv__(self, other):
        return binary.FloorDivide.apply(self, self._operand(other))

    def __rfloordiv__(self, other):
        return binary.FloorDivide.apply(self._operand(other), self)

    def __neg__(self):
        return ew.Neg.apply(self)

    def __pos__(self):
        return self

    # In-place operators change a tensor that no graph depends on. A leaf that
    # requires grad may only be updated inside no_grad (an optimizer step).
    def _in_place(self, other, name, out_of_place):
        if self.requires_grad and autograd.is_grad_enabled():
            if self._ctx is None:
                raise RuntimeError(
                    f"{name}: a leaf tensor that requires grad (shape {self.shape}) cannot be "
                    "changed in place while the graph is recorded; do it inside mg.no_grad()"
                )
            return out_of_place(self, other)  # rebinds the name, the graph stays intact
        other = self._operand(other)
        try:
            fits = np.broadcast_shapes(other.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{name}: a tensor of shape {other.shape} cannot update one of shape {self.shape} in place"
            ) from None
        result = dtypes.result_type([self.data, other.data])
        if not np.can_cast(result, self.data.dtype, "same_kind"):
            raise TypeError(
                f"{name}: the result type {result} of {self.dtype} and {other.dtype} cannot be "
                f"written into the {self.dtype} tensor in place"
            )
        try:
            getattr(self.data, name)(other.data)
        except TypeError as error:
            raise TypeError(f"{name}: {error}") from None
        self._versions[0] += 1
        return self

    def __iadd__(self, other):
        return self._in_place(other, "__iadd__", Tensor.__add__)

    def __isub__(self, other):
        return self._in_place(other, "__isub__", Tensor.__sub__)

    def __imul__(self, other):
        return self._in_place(other, "__imul__", Tensor.__mul__)

    def __itruediv__(self, other):
        return self._in_place(other, "__itruediv__", Tensor.__truediv__)

    # ---- comparisons (not differentiable) -------------------------------------------
    def _compare(self, other, compare):
        other = self._operand(other)
        try:
            return Tensor._wrap(np.asarray(compare(self.data, other.data)))
        except ValueError:
            raise ValueError(
                f"{compare.__name__}: shapes {self.shape} and {other.shape} do not broadcast"
            ) from None

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    # ---- elementwise math ---------------------------------------------------------
    def exp(self):
        return ew.Exp.apply(self)

    def log(self):
        return ew.Log.apply(self)

    def sqrt(self):
        return ew.Sqrt.apply(self)

    def abs(self):
        return ew.Abs.apply(self)

    def relu(self):
        return ew.Relu.apply(self)

    def tanh(self):
        return ew.Tanh.apply(self)

    def sigmoid(self):
        return ew.Sigmoid.apply(self)

    def erf(self):
        """The error function, elementwise."""
        return special.Erf.apply(self)

    def sin(self):
        return unary.Sin.apply(self)

    def cos(self):
        return unary.Cos.apply(self)

    def tan(self):
        return unary.Tan.apply(self)

    def arcsin(self):
        return unary.Arcsin.apply(self)

    def arccos(self):
        return unary.Arccos.apply(self)

    def arctan(self):
        return unary.Arctan.apply(self)

    def sinh(self):
        return unary.Sinh.apply(self)

    def cosh(self):
        return unary.Cosh.apply(self)

    def arcsinh(self):
        return unary.Arcsinh.apply(self)

    def arccosh(self):
        return unary.Arccosh.apply(self)

    def arctanh(self):
        return unary.Arctanh.apply(self)

    # PyTorch's names for the inverse functions
    asin, acos, atan, asinh, acosh, atanh = arcsin, arccos, arctan, arcsinh, arccosh, arctanh

    def log2(self):
        return unary.Log2.apply(self)

    def log10(self):
        return unary.Log10.apply(self)

    def exp2(self):
        return unary.Exp2.apply(self)

    def rsqrt(self):
        """1 / sqrt(x)."""
        return unary.Rsqrt.apply(self)

    def sign(self):
        """-1, 0 or 1; the gradient is zero (as for floor, ceil, round and trunc)."""
        return unary.Sign.apply(self)

    def floor(self):
        return unary.Floor.apply(self)

    def ceil(self):
        return unary.Ceil.apply(self)

    def round(self, decimals=0):
        """Round half to even, as NumPy and PyTorch."""
        return unary.Round.apply(self, decimals=decimals)

    def trunc(self):
        return unary.Trunc.apply(self)

    def isnan(self):
        """Boolean tensor, not differentiable."""
        return Tensor._wrap(np.isnan(self.data))

    def isinf(self):
        return Tensor._wrap(np.isinf(self.data))

    def isfinite(self):
        return Tensor._wrap(np.isfinite(self.data))

    def clip(self, lo=None, hi=None):
        """Limit values to [lo, hi]; the gradient passes where lo <= x <= hi."""
        if lo is None and hi is None:
            raise ValueError("clip: give at least one of lo and hi")
        return ew.Clip.apply(self, lo=lo, hi=hi)

    # ---- reductions ---------------------------------------------------------------
    @torch_names
    def sum(self, axis=None, keepdims=False):
        axes = reduce.normalize_axis(axis, self.ndim, "sum")
        return reduce.Sum.apply(self, axis=axes, keepdims=keepdims)

    def _count(self, axes):
        """How many values a reduction over ``axes`` takes."""
        count = 1
        for a in axes:
            count *= self.shape[a]
        return count

    @torch_names
    def mean(self, axis=None, keepdims=False):
        """Mean as NumPy (float32 input accumulates in float64); an empty axis gives nan
        with NumPy's RuntimeWarning."""
        axes = reduce.normalize_axis(axis, self.ndim, "mean")
        count = self._count(axes)
        if count == 0:
            warnings.warn("mean: Mean of empty slice", RuntimeWarning, stacklevel=3)
        return reduce.Mean.apply(self, axis=axes, keepdims=keepdims, divisor=count)

    @torch_names
    def max(self, axis=None, keepdims=False):
        axes = reduce.normalize_axis(axis, self.ndim, "max")
        return reduce.Max.apply(self, axis=axes, keepdims=keepdims, smallest=False)

    @torch_names
    def min(self, axis=None, keepdims=False):
        axes = reduce.normalize_axis(axis, self.ndim, "min")
        return reduce.Max.apply(self, axis=axes, keepdims=keepdims, smallest=True)

    @torch_names(dim="axis", keepdim="keepdims", correction="ddof")
    def var(self, axis=None, keepdims=False, ddof=0):
        """Variance as NumPy: the mean squared deviation from the mean (two passes, so a
        constant gives exactly 0), divided by ``count - ddof``; with ``ddof >= count``
        inf or nan and NumPy's RuntimeWarning."""
        return self._var(axis, keepdims, ddof, "var")

    def _var(self, axis, keepdims, ddof, op_name):
        axes = reduce.normalize_axis(axis, self.ndim, op_name)
        count = self._count(axes)
        divisor = max(count - ddof, 0)
        if divisor == 0:
            warnings.warn(f"{op_name}: Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=4)
        mean = reduce.Mean.apply(self, axis=axes, keepdims=True, divisor=count)
        deviation = self - mean
        return reduce.Mean.apply(deviation * deviation, axis=axes, keepdims=keepdims, divisor=divisor)

    @torch_names(dim="axis", keepdim="keepdims", correction="ddof")
    def std(self, axis=None, keepdims=False, ddof=0):
        """Square root of ``var``; its gradient is 0 where the std is 0, as PyTorch."""
        return reduce.StdFromVar.apply(self._var(axis, keepdims, ddof, "std"))

    @torch_names
    def prod(self, axis=None, keepdims=False):
        """Product over ``axis``; exact gradients where factors are zero too."""
        axes = reduce.normalize_axis(axis, self.ndim, "prod")
        return products.Prod.apply(self, axis=axes, keepdims=keepdims)

    @torch_names
    def any(self, axis=None, keepdims=False):
        """Whether any value is nonzero, over ``axis`` (boolean, not differentiable)."""
        axes = reduce.normalize_axis(axis, self.ndim, "any")
        return Tensor._wrap(np.asarray(np.any(self.data, axis=axes, keepdims=keepdims)))

    @torch_names
    def all(self, axis=None, keepdims=False):
        """Whether every value is nonzero, over ``axis`` (boolean, not differentiable)."""
        axes = reduce.normalize_axis(axis, self.ndim, "all")
        return Tensor._wrap(np.asarray(np.all(self.data, axis=axes, keepdims=keepdims)))

    def _scan_axis(self, axis, op_name):
        """(tensor, axis) for a running op: None runs over the flattened tensor, as NumPy."""
        if axis is None or self.ndim == 0:
            if axis is not None:
                reduce.normalize_axis(axis, 0, op_name)
            return self.reshape(-1), 0
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"{op_name}: axis must be an int or None, got {axis!r}")
        (axis,) = reduce.normalize_axis(axis, self.ndim, op_name)
        return self, axis

    @torch_names
    def cumsum(self, axis=None):
        """Running sum along ``axis`` (over the flattened tensor when None, as NumPy)."""
        tensor, axis = self._scan_axis(axis, "cumsum")
        return products.CumSum.apply(tensor, axis=axis)

    @torch_names
    def cumprod(self, axis=None):
        """Running product along ``axis`` (over the flattened tensor when None, as NumPy)."""
        tensor, axis = self._scan_axis(axis, "cumprod")
        return products.CumProd.apply(tensor, axis=axis)

    @torch_names
    def logsumexp(self, axis=None, keepdims=False):
        """log(sum(exp(x))) over ``axis``, shifted by the max so it cannot overflow."""
        axes = reduce.normalize_axis(axis, self.ndim, "logsumexp")
        if self.data.size == 0:
            return self.exp().sum(axis=axes, keepdims=keepdims).log()
        shift = np.max(self.data, axis=axes, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, 0)  # all -inf: log(0) = -inf, not nan
        total = (self - Tensor._wrap(shift)).exp().sum(axis=axes, keepdims=True).log() + Tensor._wrap(shift)
        if keepdims:
            return total
        return total.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))

    # ---- sorting -------------------------------------------------------------------
    def _sort_axis(self, axis, op_name):
        if self.ndim == 0:
            raise ValueError(f"{op_name}: needs a tensor with at least one dimension, got shape ()")
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"{op_name}: axis must be an int, got {axis!r}")
        (axis,) = reduce.normalize_axis(axis, self.ndim, op_name)
        return axis

    def _order(self, axis, descending):
        # a stable sort: ties keep their order (descending sorts the negated values)
        keys = self.data
        if descending:
            keys = ~keys if keys.dtype == bool else -keys
        return np.argsort(keys, axis=axis, kind="stable").astype(np.int64, copy=False)

    @torch_names
    def sort(self, axis=-1, descending=False):
        """``(values, indices)`` sorted along ``axis``, as PyTorch; ties keep their order.

        >>> import minigrad as mg
        >>> values, indices = mg.tensor([3.0, 1.0, 2.0]).sort()
        >>> values.tolist(), indices.tolist()
        ([1.0, 2.0, 3.0], [1, 2, 0])
        """
        axis = self._sort_axis(axis, "sort")
        order = self._order(axis, descending)
        return SortResult(rearrange.TakeAlongAxis.apply(self, indices=order, axis=axis), Tensor._wrap(order))

    @torch_names
    def argsort(self, axis=-1, descending=False):
        """The int64 indices that sort along ``axis`` (stable); not differentiable."""
        axis = self._sort_axis(axis, "argsort")
        return Tensor._wrap(self._order(axis, descending))

    @torch_names
    def topk(self, k, axis=-1, largest=True, sorted=True):  # noqa: A002 (PyTorch's name)
        """``(values, indices)`` of the ``k`` largest (or smallest) along ``axis``, in order."""
        axis = self._sort_axis(axis, "topk")
        if not 0 <= k <= self.shape[axis]:
            raise ValueError(f"topk: k={k} is out of range for axis {axis} of shape {self.shape}")
        order = np.take(self._order(axis, largest), np.arange(k), axis=axis)
        return SortResult(rearrange.TakeAlongAxis.apply(self, indices=order, axis=axis), Tensor._wrap(order))

    # ---- shape ------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if shape == self.shape:
            return self._unchanged()
        return shape_ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes):
        """Permute the axes; with none, reverse them."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim - 1, -1, -1))
        for a in axes:
            if not -self.ndim <= a < self.ndim:
                raise np.exceptions.AxisError(
                    f"transpose: axis {a} is out of range for a tensor of {self.ndim} dimensions"
                )
        if sorted(a % max(self.ndim, 1) for a in axes) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation for shape {self.shape}")
        return shape_ops.Transpose.apply(self, axes=tuple(a % self.ndim for a in axes))

    @torch_names(start_dim="start_axis")
    def flatten(self, start_axis=0):
        (start_axis,) = reduce.normalize_axis(start_axis, self.ndim, "flatten") or (0,)
        return self.reshape(self.shape[:start_axis] + (-1,))

    def broadcast_to(self, shape):
        shape = tuple(shape)
        if shape == self.shape:
            return self._unchanged()
        try:
            fits = np.broadcast_shapes(self.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"broadcast_to: a tensor of shape {self.shape} cannot be broadcast to {shape}")
        return shape_ops.Expand.apply(self, shape=shape)

    @torch_names
    def squeeze(self, axis=None):
        if axis is None:
            axes = tuple(i for i, size in enumerate(self.shape) if size == 1)
        else:
            axes = reduce.normalize_axis(axis, self.ndim, "squeeze")
            for a in axes:
                if self.shape[a] != 1:
                    raise ValueError(f"squeeze: axis {a} of shape {self.shape} has size {self.shape[a]}, not 1")
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))

    @torch_names
    def unsqueeze(self, axis):
        ndim = self.ndim + 1
        if not -ndim <= axis < ndim:
            raise np.exceptions.AxisError(
                f"unsqueeze: axis {axis} is out of range for a result of {ndim} dimensions"
            )
        axis %= ndim
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    @torch_names(dims="axis")
    def flip(self, axis=None):
        """Reverse the order along ``axis`` (every axis when None, as NumPy)."""
        axes = reduce.normalize_axis(axis, self.ndim, "flip")
        if not axes:
            return self._unchanged()
        return rearrange.Flip.apply(self, axis=axes)

    @torch_names(shifts="shift", dims="axis")
    def roll(self, shift, axis=None):
        """Shift elements along ``axis`` with wrap-around (over the flattened tensor when None)."""
        if axis is None:
            return rearrange.Roll.apply(self, shift=int(shift), axis=None)
        if isinstance(shift, (tuple, list)) != isinstance(axis, (tuple, list)) or (
                isinstance(shift, (tuple, list)) and len(shift) != len(axis)):
            raise ValueError(f"roll: shift {shift} and axis {axis} must be two ints or two sequences of one length")
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        for a in axes:
            reduce.normalize_axis(a, self.ndim, "roll")
        if isinstance(shift, (tuple, list)):
            return rearrange.Roll.apply(self, shift=tuple(int(s) for s in shift), axis=tuple(int(a) for a in axes))
        return rearrange.Roll.apply(self, shift=int(shift), axis=int(axis))

    def repeat(self, *sizes):
        """Tile the tensor ``sizes[i]`` times along axis i, as PyTorch's ``repeat``
        (NumPy's ``tile``; ``sizes`` may have more axes than the tensor).

        >>> import minigrad as mg
        >>> mg.tensor([1, 2]).repeat(2, 2).tolist()
        [[1, 2, 1, 2], [1, 2, 1, 2]]
        """
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim or any(s < 0 for s in sizes):
            raise ValueError(
                f"repeat: needs one non-negative count per axis (at least {self.ndim}) for shape "
                f"{self.shape}, got {sizes}"
            )
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        interleaved = tuple(x for size in shape for x in (1, size))
        tiled = tuple(x for count, size in zip(sizes, shape) for x in (count, size))
        out = self.reshape(interleaved).broadcast_to(tiled)
        return out.reshape(tuple(count * size for count, size in zip(sizes, shape)))

    def _triangle(self, k, lower):
        name = "tril" if lower else "triu"
        if self.ndim < 2:
            raise ValueError(f"{name}: needs a tensor with at least 2 dimensions, got shape {self.shape}")
        rows, cols = self.shape[-2:]
        mask = np.tri(rows, cols, k, dtype=bool)
        if not lower:
            mask = ~np.tri(rows, cols, k - 1, dtype=bool)
        return where(mask, self, 0)

    @torch_names(diagonal="k")
    def tril(self, k=0):
        """Zero above the ``k``-th diagonal of the last two axes (``diagonal=`` accepted)."""
        return self._triangle(k, lower=True)

    @torch_names(diagonal="k")
    def triu(self, k=0):
        """Zero below the ``k``-th diagonal of the last two axes (``diagonal=`` accepted)."""
        return self._triangle(k, lower=False)

    @torch_names
    def split(self, split_size_or_sections, axis=0):
        """Pieces along ``axis``, as PyTorch: of ``split_size`` each (the last may be
        smaller), or of the listed sizes (which must add up to the axis's length).

        >>> import minigrad as mg
        >>> [t.tolist() for t in mg.arange(5).split(2)]
        [[0, 1], [2, 3], [4]]
        """
        if self.ndim == 0:
            raise ValueError("split: needs a tensor with at least one dimension, got shape ()")
        (axis,) = reduce.normalize_axis(axis, self.ndim, "split")
        length = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sizes = [min(size, length - start) for start in range(0, length, size)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != length or any(s < 0 for s in sizes):
                raise ValueError(
                    f"split: sizes {sizes} must be non-negative and add up to {length}, the length "
                    f"of axis {axis} of shape {self.shape}"
                )
        pieces, start = [], 0
        lead = (slice(None),) * axis
        for size in sizes:
            pieces.append(self[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    @torch_names
    def chunk(self, chunks, axis=0):
        """``chunks`` pieces along ``axis``, as PyTorch: each ``ceil(length / chunks)`` long
        (so there may be fewer than ``chunks``)."""
        if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        if self.ndim == 0:
            raise ValueError("chunk: needs a tensor with at least one dimension, got shape ()")
        (axis,) = reduce.normalize_axis(axis, self.ndim, "chunk")
        length = self.shape[axis]
        return self.split(max(-(-length // int(chunks)), 1), axis=axis)

    def __getitem__(self, index):
        index = _normalize_index(index)
        return shape_ops.GetItem.apply(self, index=index)


autograd.set_tensor_class(Tensor)  # the class of the Tensors the engine makes
SortResult = namedtuple("SortResult", ["values", "indices"])


def _normalize_index(index):
    if not isinstance(index, tuple):
        index = (index,)
    normalized = []
    for i in index:
        if isinstance(i, Tensor):
            i = i.data
        elif isinstance(i, list):
            i = np.asarray(i)
        normalized.append(i)
    return tuple(normalized)


def as_tensor(data, dtype=None):
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(data, dtype=dtype)


def tensor(data, requires_grad=False, dtype=None):
    """Same as ``Tensor(data, requires_grad, dtype)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


@torch_names
def concatenate(tensors, axis=0):
    """Join tensors along an existing axis.

    >>> import minigrad as mg
    >>> mg.concatenate([mg.ones(2), mg.zeros(1)]).tolist()
    [1.0, 1.0, 0.0]
    """
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    ndim = tensors[0].ndim
    shapes = [t.shape for t in tensors]
    if ndim == 0 or any(t.ndim != ndim for t in tensors):
        raise ValueError(f"concatenate: shapes {shapes} do not have the same number of dimensions (>= 1)")
    (axis,) = reduce.normalize_axis(axis, ndim, "concatenate")
    return shape_ops.Concatenate.apply(*tensors, axis=axis)


@torch_names
def stack(tensors, axis=0):
    """Join tensors of one shape along a new axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    reduce.normalize_axis(axis, tensors[0].ndim + 1, "stack")
    return concatenate([t.unsqueeze(axis) for t in tensors], axis=axis)


def where(condition, a, b):
    """Elementwise ``a`` where ``condition`` holds, else ``b``; broadcasts as NumPy.

    >>> import minigrad as mg
    >>> mg.where(mg.tensor([1.0, -2.0]) > 0, 1.0, 0.0).tolist()
    [1.0, 0.0]
    """
    if isinstance(condition, Tensor):
        condition = condition.data
    condition = np.asarray(condition, dtype=bool)
    a, b = _pair(a, b)
    return ew.Where.apply(a, b, condition=condition)


def maximum(a, b):
    """Elementwise maximum; broadcasts as NumPy; ties split the gradient equally."""
    a, b = _pair(a, b)
    return ew.Maximum.apply(a, b)


def minimum(a, b):
    """Elementwise minimum; broadcasts as NumPy; ties split the gradient equally."""
    a, b = _pair(a, b)
    return binary.Minimum.apply(a, b)


def _pair(a, b):
    """Two operands as Tensors; a Python or NumPy scalar takes the other's dtype."""
    if isinstance(a, Tensor):
        return a, a._operand(b)
    if isinstance(b, Tensor):
        return b._operand(a), b
    return as_tensor(a), as_tensor(b)


