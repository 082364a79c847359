"""The ops the op table cannot drive: boolean results (isnan, any, all), integer results
(argsort, sort's indices), exact zeros in products, PyTorch-style split/chunk/repeat
edge cases, and the constructors full, full_like, linspace and eye(n, m)."""

import math

import numpy as np
import pytest

import minigrad as mg


def f64(values, requires_grad=True):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


def test_isnan_isinf_isfinite():
    x = mg.tensor([1.0, np.nan, np.inf, -np.inf])
    assert x.isnan().tolist() == [False, True, False, False]
    assert x.isinf().tolist() == [False, False, True, True]
    assert x.isfinite().tolist() == [True, False, False, False]
    assert f64([1.0]).isnan().requires_grad is False


def test_any_all():
    x = mg.tensor([[0.0, 1.0], [0.0, 0.0]])
    assert x.any().item() is True and x.all().item() is False
    assert x.any(axis=1).tolist() == [True, False]
    assert x.all(dim=0, keepdim=True).tolist() == [[False, False]]
    assert mg.zeros(0).all().item() is True


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, -1.5], [0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 1.0],
                                    [1.5, -2.0, 0.5, 0.0]])
def test_prod_and_cumprod_gradients_through_zeros(values):
    x = f64(values)
    assert mg.gradcheck(lambda t: t.prod(), [x])
    assert mg.gradcheck(lambda t: t.cumprod(0), [x])
    m = f64(np.array(values * 3).reshape(3, 4) * np.array([[1.0], [0.0], [-0.5]]) + np.eye(3, 4))
    for axis in (0, 1, (0, 1), None):
        assert mg.gradcheck(lambda t: t.prod(axis=axis), [m])
    for axis in (0, 1, -1):
        assert mg.gradcheck(lambda t: t.cumprod(axis), [m])


def test_products_refuse_second_derivatives_at_zero_instead_of_being_wrong():
    x = f64([2.0, 0.0, 3.0])
    (g,) = mg.grad(x.prod(), x)  # first derivatives are fine
    assert g.tolist() == [0.0, 6.0, 0.0]
    with pytest.raises(RuntimeError, match="prod: second derivatives where a factor is exactly zero"):
        mg.grad(x.prod(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="cumprod: second derivatives"):
        mg.grad(x.cumprod(0).sum(), x, create_graph=True)
    y = f64([2.0, -1.0, 3.0])
    assert mg.gradgradcheck(lambda t: t.prod(), [y])


def test_logsumexp_is_stable():
    x = f64([1000.0, 1000.0])
    assert x.logsumexp().item() == pytest.approx(1000.0 + math.log(2.0))
    x.logsumexp().backward()
    assert x.grad.tolist() == [0.5, 0.5]
    assert mg.tensor([-np.inf, -np.inf]).logsumexp().item() == -np.inf


def test_sort_indices_argsort_topk():
    x = mg.tensor([[3.0, 1.0, 2.0, 1.0]])
    values, indices = x.sort()
    assert values.tolist() == [[1.0, 1.0, 2.0, 3.0]] and indices.tolist() == [[1, 3, 2, 0]]  # stable
    assert x.sort(descending=True).indices.tolist() == [[0, 2, 1, 3]]
    assert x.argsort(axis=1).tolist() == [[1, 3, 2, 0]]
    assert x.argsort(descending=True).dtype == np.int64
    top = x.topk(2)
    assert top.values.tolist() == [[3.0, 2.0]] and top.indices.tolist() == [[0, 2]]
    assert x.topk(1, largest=False).indices.tolist() == [[1]]
    assert x.sort(dim=0).values.tolist() == x.tolist()
    with pytest.raises(ValueError, match=r"topk: k=5 is out of range for axis 1 of shape \(1, 4\)"):
        x.topk(5)
    with pytest.raises(ValueError, match="sort: needs a tensor with at least one dimension"):
        mg.tensor(1.0).sort()


def test_sort_gradient_goes_to_the_original_places():
    x = f64([3.0, 1.0, 2.0])
    values, _ = x.sort()
    (values * f64([1.0, 10.0, 100.0], False)).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]


def test_split_chunk_as_pytorch():
    x = mg.arange(7)
    assert [p.tolist() for p in x.split(3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [p.tolist() for p in x.split([2, 5])] == [[0, 1], [2, 3, 4, 5, 6]]
    assert [p.shape for p in x.chunk(3)] == [(3,), (3,), (1,)]
    assert len(mg.arange(6).chunk(4)) == 3  # ceil(6/4) = 2 per chunk: three chunks, as PyTorch
    assert [p.shape for p in mg.zeros(2, 6).split(4, dim=1)] == [(2, 4), (2, 2)]
    with pytest.raises(ValueError, match="split: sizes \\[2, 2\\] must be non-negative and add up to 7"):
        x.split([2, 2])
    with pytest.raises(ValueError, match="chunk: chunks must be a positive int"):
        x.chunk(0)


def test_repeat_flip_roll_tril_triu():
    x = mg.tensor([[1, 2], [3, 4]])
    assert x.repeat(1, 2).tolist() == [[1, 2, 1, 2], [3, 4, 3, 4]]
    assert x.repeat(2, 1, 1).shape == (2, 2, 2)
    with pytest.raises(ValueError, match="repeat: needs one non-negative count per axis"):
        x.repeat(2)
    assert x.flip(0).tolist() == [[3, 4], [1, 2]] and x.flip(dims=(0, 1)).tolist() == [[4, 3], [2, 1]]
    assert x.roll(1).tolist() == [[4, 1], [2, 3]]
    assert x.roll(shifts=(1, 1), dims=(0, 1)).tolist() == [[4, 3], [2, 1]]
    assert x.tril().tolist() == [[1, 0], [3, 4]] and x.triu(diagonal=1).tolist() == [[0, 2], [0, 0]]
    with pytest.raises(ValueError, match="tril: needs a tensor with at least 2 dimensions"):
        mg.ones(3).tril()


def test_mod_floordiv_follow_python():
    a, b = mg.tensor([-7, 7, -7]), mg.tensor([2, -2, -2])
    assert (a % b).tolist() == [-7 % 2, 7 % -2, -7 % -2]
    assert (a // b).tolist() == [-7 // 2, 7 // -2, -7 // -2]
    assert (7.5 % mg.tensor([2.0])).tolist() == [1.5]
    x, y = f64([5.5]), f64([2.0])
    (x % y).sum().backward()
    assert x.grad.tolist() == [1.0] and y.grad.tolist() == [-2.0]  # -floor(5.5 / 2), as PyTorch
    z = f64([5.5])
    (z // 2.0).sum().backward()
    assert z.grad.tolist() == [0.0]


def test_rounding_ops_have_zero_gradient_and_round_half_to_even():
    x = f64([0.5, 1.5, -2.5, 2.7])
    assert x.round().tolist() == [0.0, 2.0, -2.0, 3.0]
    assert f64([1.26]).round(1).tolist() == [1.3]
    (x.floor() + x.ceil() + x.round() + x.trunc() + x.sign()).sum().backward()
    assert x.grad.tolist() == [0.0] * 4


def test_minimum_ties_split():
    a, b = f64([1.0, 2.0]), f64([1.0, 3.0])
    mg.minimum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0] and b.grad.tolist() == [0.5, 0.0]
    assert mg.minimum(mg.tensor([1.0, 5.0]), 2).tolist() == [1.0, 2.0]


def test_full_linspace_eye():
    assert mg.full((2,), 3.0).dtype == np.float32
    assert mg.full(2, 3).dtype == np.int64 and mg.full(2, True).dtype == bool
    assert mg.full((1, 2), 1.5, dtype=mg.float64, requires_grad=True).requires_grad
    like = mg.full_like(mg.zeros(2, 3, dtype=mg.float64), 2.0)
    assert like.shape == (2, 3) and like.dtype == np.float64 and like.tolist()[0] == [2.0] * 3
    assert mg.full_like(mg.zeros(2), 7, dtype=mg.int64).tolist() == [7, 7]
    np.testing.assert_allclose(mg.linspace(0, 1, 5).data, [0, 0.25, 0.5, 0.75, 1.0])
    assert mg.linspace(-1, 1, steps=3).tolist() == [-1.0, 0.0, 1.0]
    assert mg.linspace(0, 1).shape == (50,) and mg.linspace(0, 1, 3).dtype == np.float32
    assert mg.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert mg.eye(3).shape == (3, 3) and mg.eye(2, dtype=mg.int64).dtype == np.int64


def test_axis_errors_name_the_op():
    x = mg.zeros(2, 3)
    for call, name in [(lambda: x.cumsum(2), "cumsum"), (lambda: x.prod(axis=5), "prod"),
                       (lambda: x.flip(3), "flip"), (lambda: x.sort(axis=2), "sort"),
                       (lambda: x.logsumexp(axis=-3), "logsumexp"), (lambda: x.roll(1, 4), "roll")]:
        with pytest.raises((ValueError, IndexError), match=name):
            call()


def test_binary_ops_promote_mixed_dtypes():
    a = mg.tensor(np.array([5.5, -2.0], dtype=np.float32), requires_grad=True)
    b = mg.tensor(np.array([2.0, 3.0]), requires_grad=True)
    for out in (a % b, a // b, mg.minimum(a, b)):
        assert out.dtype == np.float64
        out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
