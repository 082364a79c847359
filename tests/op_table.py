"""The one table of ops that drives the forward, gradient and property tests.

Each row names an op, how minigrad computes it, how NumPy computes it, how many tensor
inputs it takes, the shapes it is tried on and the domain its inputs are drawn from.
``tests/test_ops.py`` runs every row through: forward against NumPy, ``gradcheck`` and
``gradgradcheck`` in float64, and the dtype/shape properties of gradients in float32.

Domains
-------
real      uniform in [-2, 2]
positive  uniform in [0.5, 2]         (log, sqrt, the base of pow)
nonzero   +-uniform in [0.5, 2]       (denominators, negative powers)
unit      uniform in [-0.9, 0.9]      (arcsin, arccos, arctanh, tan)
above_one uniform in [1.1, 3]         (arccosh)
distinct  (for the whole op) every element of every input a different value on a grid
          that avoids 0 and +-0.5, so relu/abs/clip never sit on a kink and
          max/min/maximum never tie (ties have their own tests in test_tensor.py)
"""

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.nn.functional as F

MAX_DIMS = 3
MAX_SIDE = 3


# ---- shape strategies -----------------------------------------------------------------
def one_shape(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    """A tuple holding one shape (0-d scalars and size-1 axes included)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side).map(lambda s: (s,))


def broadcast_shapes(count=2, max_dims=MAX_DIMS):
    """``count`` shapes that broadcast together (size-1 axes, missing axes, 0-d)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=count, min_dims=0, max_dims=max_dims, min_side=1, max_side=MAX_SIDE
    ).map(lambda drawn: tuple(drawn.input_shapes))


@st.composite
def matmul_shapes(draw):
    """NumPy's matmul cases: 1-D@1-D, 1-D@N-D, N-D@1-D, and N-D@N-D with broadcast batch axes."""
    n = draw(st.integers(1, 3))
    m = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2,
                                                   min_side=1, max_side=2))
    batch_a, batch_b = batch.input_shapes
    case = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched", "v-batched", "batched-v"]))
    return {
        "vv": ((n,), (n,)),
        "vm": ((n,), (n, k)),
        "mv": ((m, n), (n,)),
        "mm": ((m, n), (n, k)),
        "batched": (batch_a + (m, n), batch_b + (n, k)),
        "v-batched": ((n,), batch_b + (n, k)),
        "batched-v": (batch_a + (m, n), (n,)),
    }[case]


@st.composite
def concat_shapes(draw, count_max=3):
    """Shapes equal except along one axis (the axis is drawn later, so all sides vary per row)."""
    ndim = draw(st.integers(1, MAX_DIMS))
    base = list(draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=MAX_SIDE)))
    axis = draw(st.integers(0, ndim - 1))
    count = draw(st.integers(1, count_max))
    shapes = []
    for _ in range(count):
        shape = list(base)
        shape[axis] = draw(st.integers(1, MAX_SIDE))
        shapes.append(tuple(shape))
    return tuple(shapes)


@st.composite
def stack_shapes(draw, count_max=3):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=MAX_SIDE))
    count = draw(st.integers(1, count_max))
    return (shape,) * count


# ---- parameter strategies (they see the drawn shapes) ---------------------------------
def no_params(shapes):
    return st.just({})


def axis_argument(ndim):
    """None, an int or a tuple of ints (each possibly negative) for a tensor of ``ndim`` dims."""
    if ndim == 0:
        return st.sampled_from([None, ()])
    single = st.integers(0, ndim - 1).flatmap(lambda a: st.sampled_from([a, a - ndim]))
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
        lambda axes: st.lists(st.booleans(), min_size=len(axes), max_size=len(axes)).map(
            lambda negate: tuple(a - ndim if n else a for a, n in zip(axes, negate))))
    return st.one_of(st.none(), single, several)


def reduced_count(shape, axis):
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def reduction_params(shapes):
    (shape,) = shapes
    return st.fixed_dictionaries({"axis": axis_argument(len(shape)), "keepdims": st.booleans()})


def variance_params(min_count):
    """axis/keepdims/ddof with count - ddof >= 1 and count >= ``min_count``."""
    def params(shapes):
        (shape,) = shapes

        @st.composite
        def draw_params(draw):
            axis = draw(axis_argument(len(shape)).filter(
                lambda a: reduced_count(shape, a) >= min_count))
            count = reduced_count(shape, axis)
            ddof = draw(st.integers(0, min(1, count - 1)))
            return {"axis": axis, "keepdims": draw(st.booleans()), "ddof": ddof}

        return draw_params()
    return params


def reshape_targets(size):
    """Every shape of 1..3 dims holding ``size`` elements."""
    targets = [()] if size == 1 else []
    for ndim in (1, 2, 3):
        for sides in itertools.product(range(1, size + 1), repeat=ndim):
            if int(np.prod(sides)) == size:
                targets.append(sides)
    return targets


def reshape_params(shapes):
    (shape,) = shapes
    size = int(np.prod(shape, dtype=np.int64))

    @st.composite
    def draw_params(draw):
        target = list(draw(st.sampled_from(reshape_targets(size))))
        if target and draw(st.booleans()):
            target[draw(st.integers(0, len(target) - 1))] = -1  # one -1 allowed
        return {"shape": tuple(target)}

    return draw_params()


def transpose_params(shapes):
    (shape,) = shapes
    ndim = len(shape)
    permutation = st.permutations(list(range(ndim))).flatmap(
        lambda axes: st.lists(st.booleans(), min_size=ndim, max_size=ndim).map(
            lambda negate: tuple(a - ndim if n else a for a, n in zip(axes, negate))))
    return st.fixed_dictionaries({"axes": st.one_of(st.just(()), permutation)})


def flatten_params(shapes):
    (shape,) = shapes
    ndim = max(len(shape), 1)
    return st.fixed_dictionaries({"start_axis": st.integers(-ndim, ndim - 1)})


def broadcast_to_params(shapes):
    (shape,) = shapes

    @st.composite
    def draw_params(draw):
        lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=MAX_SIDE))
        grown = tuple(draw(st.integers(1, MAX_SIDE)) if side == 1 else side for side in shape)
        return {"shape": tuple(lead) + grown}

    return draw_params()


def squeeze_params(shapes):
    (shape,) = shapes
    ndim = len(shape)
    ones = [i for i, side in enumerate(shape) if side == 1]
    choices = [st.none()]
    if ones:
        one = st.sampled_from(ones).flatmap(lambda a: st.sampled_from([a, a - ndim]))
        choices.append(one)
        choices.append(st.lists(st.sampled_from(ones), min_size=1, unique=True).map(tuple))
    return st.fixed_dictionaries({"axis": st.one_of(*choices)})


def unsqueeze_params(shapes):
    (shape,) = shapes
    ndim = len(shape) + 1
    return st.fixed_dictionaries({"axis": st.integers(-ndim, ndim - 1)})


def axis_of_concat(shapes):
    ndim = len(shapes[0])
    varying = [a for a in range(ndim) if len({s[a] for s in shapes}) > 1]
    if varying:  # the shapes fix the axis
        axis = varying[0]
        return st.sampled_from([axis, axis - ndim]).map(lambda a: {"axis": a})
    return st.integers(-ndim, ndim - 1).map(lambda a: {"axis": a})


def axis_of_stack(shapes):
    ndim = len(shapes[0]) + 1
    return st.integers(-ndim, ndim - 1).map(lambda a: {"axis": a})


def last_axis_params(shapes):
    (shape,) = shapes
    ndim = len(shape)
    return st.integers(-ndim, ndim - 1).map(lambda a: {"axis": a})


def index_params(shapes):
    """Basic slicing (ints, slices with steps, Ellipsis, None) and integer arrays with repeats."""
    (shape,) = shapes

    @st.composite
    def draw_params(draw):
        index = []
        used_array = False
        for side in shape:
            kind = draw(st.sampled_from(["int", "slice", "all", "array"]))
            if kind == "int":
                index.append(draw(st.integers(-side, side - 1)))
            elif kind == "slice":
                start = draw(st.one_of(st.none(), st.integers(-side, side)))
                stop = draw(st.one_of(st.none(), st.integers(-side, side)))
                step = draw(st.sampled_from([None, 1, 2, -1]))
                index.append(slice(start, stop, step))
            elif kind == "array" and not used_array:
                used_array = True
                values = draw(st.lists(st.integers(-side, side - 1), min_size=1, max_size=4))
                index.append(np.array(values, dtype=np.int64))
            else:
                index.append(slice(None))
        if index and draw(st.booleans()):
            index = index[:draw(st.integers(0, len(index) - 1))] + [Ellipsis]
        if draw(st.booleans()):
            index.insert(draw(st.integers(0, len(index))), None)
        return {"index": tuple(index)}

    return draw_params()


# ---- the table ------------------------------------------------------------------------
@dataclass
class Op:
    name: str
    fn: Callable            # minigrad: fn(*tensors, **params) -> Tensor
    ref: Callable           # NumPy:    ref(*arrays, **params) -> ndarray
    shapes: st.SearchStrategy  # draws a tuple of shapes, one per tensor input
    domain: tuple = ("real",)  # one per input, or ("distinct",) for the whole op
    params: Callable = no_params
    second_order: bool = True  # every op here supports second derivatives

    def __repr__(self):
        return self.name


def constant_like(array):
    """A fixed NumPy array of the same shape and dtype (for reflected array operands)."""
    values = np.linspace(0.5, 1.5, num=max(array.size, 1))[: array.size]
    return values.reshape(array.shape).astype(array.dtype)


def np_where_condition(shape):
    return (np.arange(int(np.prod(shape, dtype=np.int64))) % 3 == 1).reshape(shape)


def np_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_erf(a):
    return np.vectorize(math.erf, otypes=[a.dtype])(a) if a.size else a.copy()


def np_gelu(a):
    return 0.5 * a * (1 + np_erf(a / np.sqrt(2.0)))


def np_gelu_tanh(a):
    return 0.5 * a * (1 + np.tanh(np.sqrt(2.0 / np.pi) * (a + 0.044715 * a ** 3)))


def np_layer_norm(a, b, c, count):
    axes = tuple(range(a.ndim - count, a.ndim))
    centered = a - a.mean(axis=axes, keepdims=True)
    return centered / np.sqrt((centered ** 2).mean(axis=axes, keepdims=True) + 1e-5) * b + c


@st.composite
def layer_norm_shapes(draw):
    """An input of 1..3 axes, and weight and bias of its last ``count`` axes."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=MAX_SIDE))
    count = draw(st.integers(1, len(shape)))
    return (shape, shape[len(shape) - count:], shape[len(shape) - count:])


def classes_of(logits):
    """A fixed target for logits (N, C): class i % C for row i (every class used)."""
    return np.arange(logits.shape[0]) % logits.shape[1]


def np_cross_entropy(a, smoothing=0.0, ignore=None):
    """PyTorch's cross-entropy with label smoothing; rows where ``ignore`` is True drop out."""
    logp = np_log_softmax(a, axis=1)
    target = classes_of(a)
    per_row = -(1 - smoothing) * logp[np.arange(a.shape[0]), target] - smoothing * logp.mean(axis=1)
    kept = np.ones(a.shape[0], dtype=bool) if ignore is None else ~ignore
    return per_row[kept].sum() / kept.sum()


def ignore_first(a):
    ignore = np.zeros(a.shape[0], dtype=bool)
    ignore[0] = True
    return ignore


def with_ignored_first(a):
    target = classes_of(a)
    target[0] = -100
    return target


def scan_params(shapes):
    """axis None (the flattened tensor) or one axis, possibly negative."""
    (shape,) = shapes
    ndim = len(shape)
    if ndim == 0:
        return st.just({"axis": None})
    return st.fixed_dictionaries({"axis": st.one_of(st.none(), st.integers(-ndim, ndim - 1))})


def sort_params(shapes):
    (shape,) = shapes
    ndim = len(shape)
    return st.fixed_dictionaries({"axis": st.integers(-ndim, ndim - 1), "descending": st.booleans()})


def np_sort(a, axis, descending):
    out = np.sort(a, axis=axis)
    return np.flip(out, axis) if descending else out


def topk_params(shapes):
    (shape,) = shapes
    ndim = len(shape)

    @st.composite
    def draw_params(draw):
        axis = draw(st.integers(-ndim, ndim - 1))
        k = draw(st.integers(0, shape[axis]))
        return {"k": k, "axis": axis, "largest": draw(st.booleans())}

    return draw_params()


def np_topk(a, k, axis, largest):
    return np.take(np_sort(a, axis, largest), np.arange(k), axis=axis)


def flip_params(shapes):
    (shape,) = shapes
    return st.fixed_dictionaries({"axis": axis_argument(len(shape))})


def roll_params(shapes):
    (shape,) = shapes
    ndim = len(shape)
    shift = st.integers(-4, 4)
    if ndim == 0:
        return st.fixed_dictionaries({"shift": shift, "axis": st.none()})
    axes = st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=2)
    several = axes.flatmap(lambda a: st.lists(shift, min_size=len(a), max_size=len(a)).map(
        lambda s: {"shift": tuple(s), "axis": tuple(a)}))
    return st.one_of(st.fixed_dictionaries({"shift": shift, "axis": st.none()}),
                     st.fixed_dictionaries({"shift": shift, "axis": st.integers(-ndim, ndim - 1)}),
                     several)


def repeat_params(shapes):
    (shape,) = shapes
    extra = st.integers(0, 1)
    return extra.flatmap(lambda e: st.lists(st.integers(1, 3), min_size=len(shape) + e,
                                            max_size=len(shape) + e).map(lambda r: {"sizes": tuple(r)}))


def diagonal_params(shapes):
    return st.fixed_dictionaries({"k": st.integers(-3, 3)})


def split_params(shapes):
    (shape,) = shapes
    ndim = len(shape)
    return st.fixed_dictionaries({"size": st.integers(1, 3), "axis": st.integers(-ndim, ndim - 1)})


def np_split_reversed(a, size, axis):
    """The pieces of ``size`` along ``axis`` (the last one shorter), joined in reverse order."""
    length = a.shape[axis]
    pieces = [np.take(a, np.arange(start, min(start + size, length)), axis=axis)
              for start in range(0, length, size)]
    return np.concatenate(pieces[::-1], axis=axis)


def np_chunk_last(a, size, axis):
    length = a.shape[axis]
    chunk = -(-length // size)
    starts = list(range(0, length, chunk))
    return np.take(a, np.arange(starts[-1], length), axis=axis)


LOGITS = hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=4).map(lambda s: (s,))
UNARY = one_shape()
BINARY = broadcast_shapes(2)

OPS = [
    # arithmetic, broadcasting both operands
    Op("add", lambda a, b: a + b, np.add, BINARY),
    Op("sub", lambda a, b: a - b, np.subtract, BINARY),
    Op("mul", lambda a, b: a * b, np.multiply, BINARY),
    Op("div", lambda a, b: a / b, np.divide, BINARY, ("real", "nonzero")),
    Op("pow", lambda a, b: a ** b, np.power, BINARY, ("positive", "real")),
    Op("matmul", lambda a, b: a @ b, np.matmul, matmul_shapes()),
    Op("neg", lambda a: -a, np.negative, UNARY),
    # Python scalars, NumPy scalars and NumPy arrays on either side
    Op("add_scalar", lambda a: a + 1.5, lambda a: a + 1.5, UNARY),
    Op("radd_scalar", lambda a: 1.5 + a, lambda a: 1.5 + a, UNARY),
    Op("rsub_scalar", lambda a: 2.5 - a, lambda a: 2.5 - a, UNARY),
    Op("sub_int", lambda a: a - 2, lambda a: a - 2, UNARY),
    Op("sub_scalar", lambda a: a - 0.25, lambda a: a - 0.25, UNARY),
    Op("mul_scalar", lambda a: a * 1.7, lambda a: a * 1.7, UNARY),
    Op("mul_numpy_float32", lambda a: a * np.float32(-0.5), lambda a: a * np.float32(-0.5), UNARY),
    Op("rmul_int", lambda a: 3 * a, lambda a: 3 * a, UNARY),
    Op("div_scalar", lambda a: a / 4.0, lambda a: a / 4.0, UNARY),
    Op("rdiv_scalar", lambda a: 1.5 / a, lambda a: 1.5 / a, UNARY, ("nonzero",)),
    Op("rmul_numpy_scalar", lambda a: np.float64(3.0) * a, lambda a: np.float64(3.0) * a, UNARY),
    Op("rsub_numpy_float32", lambda a: np.float32(0.5) - a, lambda a: np.float32(0.5) - a, UNARY),
    Op("radd_numpy_array", lambda a: constant_like(a.data) + a, lambda a: constant_like(a) + a, UNARY),
    Op("rsub_numpy_array", lambda a: constant_like(a.data) - a, lambda a: constant_like(a) - a, UNARY),
    Op("rmul_numpy_array", lambda a: constant_like(a.data) * a, lambda a: constant_like(a) * a, UNARY),
    Op("rdiv_numpy_array", lambda a: constant_like(a.data) / a, lambda a: constant_like(a) / a,
       UNARY, ("nonzero",)),
    Op("square", lambda a: a ** 2, lambda a: a ** 2, UNARY),
    Op("cube", lambda a: a ** 3, lambda a: a ** 3, UNARY),
    Op("pow_half", lambda a: a ** 0.5, lambda a: a ** 0.5, UNARY, ("positive",)),
    Op("pow_negative", lambda a: a ** -1.5, lambda a: a ** -1.5, UNARY, ("positive",)),
    Op("reciprocal", lambda a: a ** -1, lambda a: a ** -1.0, UNARY, ("nonzero",)),
    Op("rpow_scalar", lambda a: 2.0 ** a, lambda a: 2.0 ** a, UNARY),
    # elementwise math
    Op("exp", lambda a: a.exp(), np.exp, UNARY),
    Op("log", lambda a: a.log(), np.log, UNARY, ("positive",)),
    Op("sqrt", lambda a: a.sqrt(), np.sqrt, UNARY, ("positive",)),
    Op("abs", lambda a: a.abs(), np.abs, UNARY, ("distinct",)),
    Op("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0), UNARY, ("distinct",)),
    Op("tanh", lambda a: a.tanh(), np.tanh, UNARY),
    Op("sigmoid", lambda a: a.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), UNARY),
    Op("clip", lambda a: a.clip(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), UNARY, ("distinct",)),
    Op("clip_low", lambda a: a.clip(lo=0.5), lambda a: np.maximum(a, 0.5), UNARY, ("distinct",)),
    Op("clip_high", lambda a: a.clip(hi=-0.5), lambda a: np.minimum(a, -0.5), UNARY, ("distinct",)),
    # reductions
    Op("sum", lambda a, **p: a.sum(**p), lambda a, **p: np.sum(a, **p), UNARY, params=reduction_params),
    Op("mean", lambda a, **p: a.mean(**p), lambda a, **p: np.mean(a, **p), UNARY, params=reduction_params),
    Op("max", lambda a, **p: a.max(**p), lambda a, **p: np.max(a, **p), UNARY, ("distinct",),
       params=reduction_params),
    Op("min", lambda a, **p: a.min(**p), lambda a, **p: np.min(a, **p), UNARY, ("distinct",),
       params=reduction_params),
    Op("var", lambda a, **p: a.var(**p), lambda a, **p: np.var(a, **p), UNARY, params=variance_params(1)),
    Op("std", lambda a, **p: a.std(**p), lambda a, **p: np.std(a, **p),
       UNARY.filter(lambda shapes: int(np.prod(shapes[0], dtype=np.int64)) >= 2), ("distinct",),
       params=variance_params(2)),
    # shape ops
    Op("reshape", lambda a, shape: a.reshape(*shape), lambda a, shape: a.reshape(shape), UNARY,
       params=reshape_params),
    Op("transpose", lambda a, axes: a.transpose(*axes), lambda a, axes: np.transpose(a, axes or None),
       UNARY, params=transpose_params),
    Op("T", lambda a: a.T, lambda a: a.T, UNARY),
    Op("flatten", lambda a, start_axis: a.flatten(start_axis),
       lambda a, start_axis: a.reshape(a.shape[:start_axis % max(a.ndim, 1)] + (-1,)),
       UNARY, params=flatten_params),
    Op("broadcast_to", lambda a, shape: a.broadcast_to(shape),
       lambda a, shape: np.broadcast_to(a, shape), UNARY, params=broadcast_to_params),
    Op("squeeze", lambda a, axis: a.squeeze(axis), lambda a, axis: np.squeeze(a, axis), UNARY,
       params=squeeze_params),
    Op("unsqueeze", lambda a, axis: a.unsqueeze(axis), lambda a, axis: np.expand_dims(a, axis), UNARY,
       params=unsqueeze_params),
    Op("getitem", lambda a, index: a[index], lambda a, index: a[index], UNARY, params=index_params),
    Op("concatenate", lambda *ts, axis: mg.concatenate(ts, axis=axis),
       lambda *arrays, axis: np.concatenate(arrays, axis=axis), concat_shapes(), params=axis_of_concat),
    Op("stack", lambda *ts, axis: mg.stack(ts, axis=axis),
       lambda *arrays, axis: np.stack(arrays, axis=axis), stack_shapes(), params=axis_of_stack),
    # combinators
    Op("where", lambda a, b: mg.where(np_where_condition(np.broadcast_shapes(a.shape, b.shape)), a, b),
       lambda a, b: np.where(np_where_condition(np.broadcast_shapes(a.shape, b.shape)), a, b), BINARY),
    Op("where_scalar", lambda a: mg.where(a > 0.3, a, 0.0),
       lambda a: np.where(a > 0.3, a, 0.0), UNARY, ("distinct",)),
    Op("maximum", lambda a, b: mg.maximum(a, b), np.maximum, BINARY, ("distinct",)),
    # composed functionals
    Op("softmax", lambda a, axis: F.softmax(a, axis=axis), np_softmax, one_shape(min_dims=1),
       ("distinct",), params=last_axis_params),
    Op("log_softmax", lambda a, axis: F.log_softmax(a, axis=axis), np_log_softmax,
       one_shape(min_dims=1), ("distinct",), params=last_axis_params),
    Op("mse_loss", lambda a, b: F.mse_loss(a, b), lambda a, b: np.mean((a - b) ** 2),
       BINARY.map(lambda shapes: (np.broadcast_shapes(*shapes),) * 2)),
    Op("erf", lambda a: a.erf(), np_erf, UNARY),
    # trigonometric, hyperbolic, logs and powers of two
    Op("sin", lambda a: a.sin(), np.sin, UNARY),
    Op("cos", lambda a: a.cos(), np.cos, UNARY),
    Op("tan", lambda a: a.tan(), np.tan, UNARY, ("unit",)),
    Op("arcsin", lambda a: a.arcsin(), np.arcsin, UNARY, ("unit",)),
    Op("arccos", lambda a: a.acos(), np.arccos, UNARY, ("unit",)),
    Op("arctan", lambda a: a.arctan(), np.arctan, UNARY),
    Op("sinh", lambda a: a.sinh(), np.sinh, UNARY),
    Op("cosh", lambda a: a.cosh(), np.cosh, UNARY),
    Op("arcsinh", lambda a: a.asinh(), np.arcsinh, UNARY),
    Op("arccosh", lambda a: a.arccosh(), np.arccosh, UNARY, ("above_one",)),
    Op("arctanh", lambda a: a.atanh(), np.arctanh, UNARY, ("unit",)),
    Op("log2", lambda a: a.log2(), np.log2, UNARY, ("positive",)),
    Op("log10", lambda a: a.log10(), np.log10, UNARY, ("positive",)),
    Op("exp2", lambda a: a.exp2(), np.exp2, UNARY),
    Op("rsqrt", lambda a: a.rsqrt(), lambda a: 1 / np.sqrt(a), UNARY, ("positive",)),
    # piecewise constant: zero gradients (the distinct grid keeps inputs off the jumps)
    Op("sign", lambda a: a.sign(), np.sign, UNARY, ("distinct",)),
    Op("floor", lambda a: a.floor(), np.floor, UNARY, ("distinct",)),
    Op("ceil", lambda a: a.ceil(), np.ceil, UNARY, ("distinct",)),
    Op("round", lambda a: a.round(), np.round, UNARY, ("distinct",)),
    Op("round_decimals", lambda a: a.round(1), lambda a: np.round(a, 1), UNARY, ("distinct",)),
    Op("trunc", lambda a: a.trunc(), np.trunc, UNARY, ("distinct",)),
    # remainder, floor division, minimum
    Op("mod", lambda a, b: a % b, np.remainder, BINARY, ("real", "nonzero")),
    Op("mod_scalar", lambda a: a % 0.75, lambda a: np.remainder(a, 0.75), UNARY),
    Op("rmod_scalar", lambda a: 1.75 % a, lambda a: np.remainder(1.75, a), UNARY, ("nonzero",)),
    Op("floordiv", lambda a, b: a // b, np.floor_divide, BINARY, ("real", "nonzero")),
    Op("rfloordiv_scalar", lambda a: 1.75 // a, lambda a: np.floor_divide(1.75, a), UNARY, ("nonzero",)),
    Op("minimum", lambda a, b: mg.minimum(a, b), np.minimum, BINARY, ("distinct",)),
    # products, running totals, logsumexp
    Op("prod", lambda a, **p: a.prod(**p), lambda a, **p: np.prod(a, **p), UNARY, params=reduction_params),
    Op("cumsum", lambda a, **p: a.cumsum(**p), lambda a, **p: np.cumsum(a, **p), UNARY, params=scan_params),
    Op("cumprod", lambda a, **p: a.cumprod(**p), lambda a, **p: np.cumprod(a, **p), UNARY,
       params=scan_params),
    Op("logsumexp", lambda a, **p: a.logsumexp(**p),
       lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)), UNARY,
       params=reduction_params),
    # sorting
    Op("sort", lambda a, **p: a.sort(**p).values, np_sort, one_shape(min_dims=1), ("distinct",),
       params=sort_params),
    Op("topk", lambda a, **p: a.topk(**p).values, np_topk, one_shape(min_dims=1), ("distinct",),
       params=topk_params),
    # rearranging
    Op("flip", lambda a, axis: a.flip(axis), lambda a, axis: np.flip(a, axis) if axis != () else a,
       UNARY, params=flip_params),
    Op("roll", lambda a, shift, axis: a.roll(shift, axis), lambda a, shift, axis: np.roll(a, shift, axis),
       UNARY, params=roll_params),
    Op("repeat", lambda a, sizes: a.repeat(*sizes), lambda a, sizes: np.tile(a, sizes), UNARY,
       params=repeat_params),
    Op("tril", lambda a, k: a.tril(k), lambda a, k: np.tril(a, k), one_shape(min_dims=2),
       params=diagonal_params),
    Op("triu", lambda a, k: a.triu(k), lambda a, k: np.triu(a, k), one_shape(min_dims=2),
       params=diagonal_params),
    Op("split", lambda a, size, axis: mg.concatenate(a.split(size, axis)[::-1], axis=axis),
       np_split_reversed, one_shape(min_dims=1), params=split_params),
    Op("chunk", lambda a, size, axis: a.chunk(size, axis)[-1], np_chunk_last, one_shape(min_dims=1),
       params=split_params),
    Op("leaky_relu", lambda a: F.leaky_relu(a, 0.1), lambda a: np.where(a > 0, a, 0.1 * a), UNARY,
       ("distinct",)),
    Op("gelu", lambda a: F.gelu(a), np_gelu, UNARY),
    Op("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), np_gelu_tanh, UNARY),
    Op("layer_norm", lambda a, b, c: F.layer_norm(a, b.shape, b, c),
       lambda a, b, c: np_layer_norm(a, b, c, b.ndim), layer_norm_shapes()),
    Op("cross_entropy", lambda a: F.cross_entropy(a, classes_of(a)), np_cross_entropy, LOGITS),
    Op("cross_entropy_sum", lambda a: F.cross_entropy(a, classes_of(a), reduction="sum"),
       lambda a: np_cross_entropy(a) * a.shape[0], LOGITS),
    Op("cross_entropy_none", lambda a: F.cross_entropy(a, classes_of(a), reduction="none"),
       lambda a: -np_log_softmax(a, axis=1)[np.arange(a.shape[0]), classes_of(a)], LOGITS),
    Op("cross_entropy_smoothed", lambda a: F.cross_entropy(a, classes_of(a), label_smoothing=0.2),
       lambda a: np_cross_entropy(a, 0.2), LOGITS),
    Op("cross_entropy_ignore_index", lambda a: F.cross_entropy(a, with_ignored_first(a), label_smoothing=0.1),
       lambda a: np_cross_entropy(a, 0.1, ignore_first(a)), LOGITS),
    Op("nll_loss", lambda a: F.nll_loss(a, classes_of(a), reduction="sum"),
       lambda a: -a[np.arange(a.shape[0]), classes_of(a)].sum(), LOGITS),
]

OPS_BY_NAME = {op.name: op for op in OPS}


# ---- inputs -----------------------------------------------------------------------------
def make_arrays(op, shapes, seed, dtype=np.float64):
    """Arrays for ``op`` on ``shapes`` drawn from its domain with a NumPy generator."""
    rng = np.random.default_rng(seed)
    if op.domain == ("distinct",):
        sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
        total = sum(sizes)
        # a grid 0.2 apart, offset by 0.07: never 0, never +-0.5, never two equal values
        grid = (np.arange(total) - total // 2) * 0.2 + 0.07
        values = rng.permutation(grid)
        arrays, start = [], 0
        for shape, size in zip(shapes, sizes):
            arrays.append(values[start:start + size].reshape(shape).astype(dtype))
            start += size
        return arrays
    domains = op.domain if len(op.domain) == len(shapes) else op.domain * len(shapes)
    arrays = []
    for shape, domain in zip(shapes, domains):
        if domain == "real":
            values = rng.uniform(-2.0, 2.0, size=shape)
        elif domain == "positive":
            values = rng.uniform(0.5, 2.0, size=shape)
        elif domain == "nonzero":
            values = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        elif domain == "unit":
            values = rng.uniform(-0.9, 0.9, size=shape)
        elif domain == "above_one":
            values = rng.uniform(1.1, 3.0, size=shape)
        else:
            raise ValueError(f"unknown domain {domain}")
        arrays.append(np.asarray(values, dtype=dtype))
    return arrays


def make_tensors(op, shapes, seed, dtype=np.float64, requires_grad=True):
    return [mg.tensor(a.copy(), requires_grad=requires_grad) for a in make_arrays(op, shapes, seed, dtype)]


@dataclass
class Case:
    op: Op
    shapes: tuple
    params: dict
    seed: int
    extra: dict = field(default_factory=dict)


def draw_case(data, op):
    """Draw shapes, parameters and a seed for ``op`` from a hypothesis ``data`` object."""
    shapes = data.draw(op.shapes, label="shapes")
    params = data.draw(op.params(shapes), label="params")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    return Case(op, shapes, params, seed)
