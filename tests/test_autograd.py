"""The engine: known derivatives, higher order, graph shapes (chains, diamonds, reuse),
accumulation, grad mode, in-place rules and memory of gradients."""

import numpy as np
import pytest

import minigrad as mg


def f64(values, requires_grad=True):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


# ---- known values ------------------------------------------------------------------------
def test_cube_first_and_second_derivative_at_two():
    x = mg.tensor(2.0, requires_grad=True)
    (dx,) = mg.grad(x ** 3, x, create_graph=True)
    assert dx.item() == pytest.approx(12.0)
    assert dx.requires_grad
    (d2x,) = mg.grad(dx, x)
    assert d2x.item() == pytest.approx(12.0)
    x.grad = None
    (x ** 3).backward()
    assert x.grad.item() == pytest.approx(12.0)


@pytest.mark.parametrize("shape", [(), (1,)], ids=["0-d", "1-d"])
@pytest.mark.parametrize("name, fn, second", [
    ("exp", lambda x: x.exp(), lambda v: np.exp(v)),
    ("sqrt", lambda x: x.sqrt(), lambda v: -0.25 * v ** -1.5),
    ("tanh", lambda x: x.tanh(), lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
    ("reciprocal", lambda x: 1.0 / x, lambda v: 2.0 / v ** 3),
], ids=["exp", "sqrt", "tanh", "reciprocal"])
def test_second_derivative_of_ops_that_save_their_output(name, fn, second, shape):
    """d2/dx2 through ops whose backward uses their own output, on 0-d and 1-d tensors."""
    x = mg.tensor(np.full(shape, 0.7), requires_grad=True)
    (dx,) = mg.grad(fn(x).sum(), x, create_graph=True)
    (d2x,) = mg.grad(dx.sum(), x)
    np.testing.assert_allclose(d2x.data, np.full(shape, second(0.7)), rtol=1e-10)


def test_two_layer_tanh_network_matches_hand_written_numpy_backward():
    rng = np.random.default_rng(0)
    x_v, t_v = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    w1_v, b1_v = rng.standard_normal((3, 4)), rng.standard_normal(4)
    w2_v, b2_v = rng.standard_normal((4, 2)), rng.standard_normal(2)
    w1, b1, w2, b2 = (f64(v) for v in (w1_v, b1_v, w2_v, b2_v))
    h = (mg.tensor(x_v) @ w1 + b1).tanh()
    y = h @ w2 + b2
    loss = ((y - mg.tensor(t_v)) ** 2).mean()
    loss.backward()
    # NumPy, by hand
    h_v = np.tanh(x_v @ w1_v + b1_v)
    y_v = h_v @ w2_v + b2_v
    assert loss.item() == pytest.approx(np.mean((y_v - t_v) ** 2))
    dy = 2 * (y_v - t_v) / y_v.size
    dw2, db2 = h_v.T @ dy, dy.sum(axis=0)
    dpre = (dy @ w2_v.T) * (1 - h_v ** 2)
    dw1, db1 = x_v.T @ dpre, dpre.sum(axis=0)
    for tensor, expected in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
        np.testing.assert_allclose(tensor.grad.data, expected, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product():
    rng = np.random.default_rng(1)
    a_v = rng.standard_normal((4, 4))
    x_v, v_v = rng.standard_normal(4), rng.standard_normal(4)
    x = f64(x_v)
    a = mg.tensor(a_v)
    f = (x @ (a @ x)) + (x ** 3).sum()   # Hessian: A + A^T + diag(6x)
    (g,) = mg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.data, (a_v + a_v.T) @ x_v + 3 * x_v ** 2)
    (hv,) = mg.grad((g * mg.tensor(v_v)).sum(), x)
    np.testing.assert_allclose(hv.data, (a_v + a_v.T + np.diag(6 * x_v)) @ v_v, rtol=1e-10)
    # the same product as grad_outputs of mg.grad
    (g2,) = mg.grad(f, x, create_graph=True)
    (hv2,) = mg.grad(g2, x, grad_outputs=mg.tensor(v_v))
    np.testing.assert_allclose(hv2.data, hv.data)


def test_gradient_penalty_trains_through_the_input_gradient():
    rng = np.random.default_rng(2)
    x_v = rng.standard_normal((3, 2))
    w = f64(rng.standard_normal((2, 1)))

    def penalty(weight):
        x = mg.tensor(x_v, requires_grad=True)
        critic = (x @ weight).tanh().sum()
        (dx,) = mg.grad(critic, x, create_graph=True)
        norms = (dx * dx).sum(axis=1).sqrt()
        return ((norms - 1.0) ** 2).mean()

    value = penalty(w)
    value.backward()
    # by hand: dx_i = (1 - tanh(x_i.w)^2) w^T, so its norm is s_i |w|
    w_v = w.data[:, 0]
    s = 1 - np.tanh(x_v @ w_v) ** 2
    assert value.item() == pytest.approx(np.mean((s * np.linalg.norm(w_v) - 1) ** 2))
    assert w.grad is not None and np.any(w.grad.data != 0)
    assert mg.gradcheck(penalty, [f64(w.data)])


def test_once_differentiable_function_raises_on_second_derivative():
    class FusedSquare(mg.Function):
        once_differentiable = True

        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * mg.tensor(2 * a.data)

    x = f64([1.0, 2.0])
    FusedSquare.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])
    (dx,) = mg.grad(FusedSquare.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(dx.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="once-differentiable"):
        mg.grad(dx.sum(), x)


# ---- graph shapes ------------------------------------------------------------------------
def test_chain_of_ten_thousand_ops():
    x = f64([1.0, 2.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0001 ** 10_000] * 2, rtol=1e-9)
    (g,) = mg.grad(y.sum(), x, create_graph=True)  # the recorded gradient graph is as deep
    np.testing.assert_allclose(g.data, x.grad.data)
    del y, g  # tearing down a deep graph must not recurse either


def test_diamond_reusing_a_sliced_non_leaf():
    a = f64(np.arange(6.0).reshape(2, 3))
    h = a * 2.0                      # a non-leaf used twice
    y = h - h[:, :1]
    y.sum().backward()
    np.testing.assert_allclose(a.grad.data, [[-4.0, 2.0, 2.0], [-4.0, 2.0, 2.0]])
    assert mg.gradcheck(lambda t: (t - t[:, :1]) * t, [f64(np.arange(6.0).reshape(2, 3) / 7)])


def test_non_leaf_used_twice_through_paths_of_different_lengths():
    x = f64([0.3, -0.8])
    h = x.tanh()
    long_path = h.exp().log() * 1.0 + 0.0
    z = h * h + long_path        # h reaches z directly (twice) and through four more nodes
    z.sum().backward()
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad.data, (2 * t + 1) * (1 - t ** 2), rtol=1e-12)
    assert mg.gradcheck(lambda v: (v.tanh() * v.tanh() + v.tanh().exp().log()).sum(), [f64([0.3, -0.8])])
    assert mg.gradgradcheck(lambda v: v.tanh() * v.tanh().exp(), [f64([0.3, -0.8])])


def test_tensor_used_twice_receives_both_contributions():
    x = f64([3.0, -2.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, -4.0])
    y = f64([1.5])
    (y + y + y).backward()
    np.testing.assert_allclose(y.grad.data, [3.0])


def test_broadcast_operand_gradients_are_summed_back():
    a = f64(np.ones((2, 3)))
    b = f64([1.0, 2.0, 3.0])
    c = f64(2.0)
    (a * b * c).sum().backward()
    np.testing.assert_allclose(b.grad.data, [4.0, 4.0, 4.0])
    assert c.grad.shape == () and c.grad.item() == pytest.approx(12.0)
    np.testing.assert_allclose(a.grad.data, np.tile([2.0, 4.0, 6.0], (2, 1)))


# ---- accumulation and mg.grad ------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls():
    x = f64([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3 + 2.0, 3 + 4.0])


def test_backward_with_explicit_gradient():
    x = f64([1.0, 2.0, 3.0])
    (x * 2).backward(mg.tensor(np.array([1.0, 0.0, -1.0])))
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, -2.0])
    y = f64([1.0, 2.0])
    (y * 2).backward(np.array([1.0, 1.0]))  # a NumPy array works too
    np.testing.assert_allclose(y.grad.data, [2.0, 2.0])


def test_backward_errors():
    with pytest.raises(RuntimeError):
        (f64([1.0, 2.0]) * 2).backward()           # non-scalar without grad
    with pytest.raises(RuntimeError):
        mg.tensor([1.0]).backward()                # does not require grad
    with pytest.raises(RuntimeError):
        (f64([1.0, 2.0]) * 2).backward(mg.tensor(np.ones(3)))  # gradient of the wrong shape
    x = f64([[1.0]])
    (x * 2).backward()                             # one element, any shape: allowed
    assert x.grad.item() == 2.0


def test_grad_does_not_touch_dot_grad():
    x = f64([1.0, 2.0])
    (g,) = mg.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.data, [2.0, 4.0])
    assert x.grad is None
    x.grad = mg.tensor(np.array([7.0, 7.0]))
    mg.grad((x * x).sum(), x)
    np.testing.assert_allclose(x.grad.data, [7.0, 7.0])


def test_grad_with_several_outputs_and_inputs():
    x, y, unused = f64([1.0, 2.0]), f64(3.0), f64([5.0])
    gx, gy, gu = mg.grad([x * y, (x * x).sum()], [x, y, unused],
                         grad_outputs=[mg.tensor(np.array([1.0, 1.0])), mg.tensor(np.array(1.0))])
    np.testing.assert_allclose(gx.data, [3.0 + 2.0, 3.0 + 4.0])
    assert gy.item() == pytest.approx(3.0)
    np.testing.assert_allclose(gu.data, [0.0])  # an input the outputs do not depend on
    assert gu.shape == (1,)
    with pytest.raises(RuntimeError):
        mg.grad((x * 2).sum(), mg.tensor([1.0]))  # an input that does not require grad


def test_grad_of_non_leaf_input():
    x = f64([1.0, 2.0])
    h = x * 3
    (gh,) = mg.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.data, 2 * h.data)
    assert x.grad is None


# ---- grad mode and detach ----------------------------------------------------------------
def test_no_grad_builds_no_graph():
    x = f64([1.0, 2.0])
    with mg.no_grad():
        y = (x * 2).exp().sum()
        assert not mg.is_grad_enabled()
        with mg.enable_grad():
            inner = x * 2
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert inner.requires_grad and inner.grad_fn is not None
    with pytest.raises(RuntimeError):
        y.backward()

    @mg.no_grad()
    def step(t):
        return t * 5

    assert not step(x).requires_grad
    assert mg.is_grad_enabled()


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            1 / 0
    assert mg.is_grad_enabled()


def test_detach_stops_gradient():
    x = f64([2.0])
    y = x * x
    (y.detach() * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [4.0])


# ---- in-place operators ------------------------------------------------------------------
@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_in_place_on_a_leaf_that_requires_grad(op):
    x = f64([1.0, 2.0])
    data = x.data
    namespace = {"x": x}
    with pytest.raises(RuntimeError):
        exec(f"x {op} 2.0", namespace)
    np.testing.assert_allclose(x.data, [1.0, 2.0])  # nothing changed
    assert namespace["x"] is x
    with mg.no_grad():
        exec(f"x {op} 2.0", namespace)
    assert namespace["x"] is x and x.data is data  # updated in place
    expected = {"+=": [3.0, 4.0], "-=": [-1.0, 0.0], "*=": [2.0, 4.0], "/=": [0.5, 1.0]}[op]
    np.testing.assert_allclose(x.data, expected)
    assert x.requires_grad and x.is_leaf


def test_in_place_with_a_tensor_under_no_grad_keeps_dtype():
    w = mg.ones(3, requires_grad=True)
    with mg.no_grad():
        w -= mg.tensor(np.array([0.5, 0.5, 0.5]))  # a float64 update into float32
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.data, [0.5, 0.5, 0.5])


def test_in_place_on_a_non_leaf_keeps_the_graph_correct():
    x = f64([1.0, 2.0])
    y = x * 2
    y += 1
    y *= y
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * (2 * x.data + 1) * 2)


# ---- memory of gradients ------------------------------------------------------------------
def test_leaf_gradients_never_share_memory():
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    upstream = mg.tensor(np.array([1.0, 1.0]))
    (x + y).backward(upstream)         # Add hands the same gradient to both inputs
    arrays = [x.data, y.data, x.grad.data, y.grad.data, upstream.data]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert not np.shares_memory(arrays[i], arrays[j]), (i, j)
    x.grad.data[0] = 100.0
    assert y.grad.data[0] == 1.0 and upstream.data[0] == 1.0
    z = f64(np.zeros((2, 3)))
    z.sum().backward()                 # sum's gradient is a broadcast view
    assert z.grad.data.flags.writeable and z.grad.data.flags.owndata
    z.grad.data[0, 0] = 5.0
    assert z.grad.data.sum() == 10.0


def test_gradient_of_identity_does_not_alias_upstream():
    x = f64([1.0, 2.0])
    g = mg.tensor(np.array([1.0, 1.0]))
    x.backward(g)
    assert not np.shares_memory(x.grad.data, g.data)
    first = x.grad.data.copy()
    x.backward(g)
    np.testing.assert_allclose(x.grad.data, 2 * first)
    np.testing.assert_allclose(g.data, [1.0, 1.0])


# ---- custom Functions and the engine's checks ----------------------------------------------
def test_engine_sums_a_broadcast_gradient_for_a_custom_function():
    class ScaleRows(mg.Function):
        @staticmethod
        def forward(ctx, a, s):
            ctx.save_for_backward(a, s)
            return a * s

        @staticmethod
        def backward(ctx, grad):
            a, s = ctx.saved_tensors
            return grad * s, grad * a     # grad * a has a's shape: the engine reduces it for s

    a, s = f64(np.ones((3, 2))), f64([[2.0], [3.0], [4.0]])
    ScaleRows.apply(a, s).sum().backward()
    np.testing.assert_allclose(s.grad.data, [[2.0], [2.0], [2.0]])


def test_engine_names_a_function_returning_a_wrong_gradient_shape():
    class Broken(mg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return mg.tensor(np.ones((5,)))

    with pytest.raises(RuntimeError, match="Broken"):
        Broken.apply(f64([1.0, 2.0])).sum().backward()


@pytest.mark.parametrize("name, fn, third", [
    ("tanh", lambda x: x.tanh(),
     lambda v: -2 * ((1 - np.tanh(v) ** 2) ** 2 - 2 * np.tanh(v) ** 2 * (1 - np.tanh(v) ** 2))),
    ("sigmoid", lambda x: x.sigmoid(),
     lambda v: (lambda s: s * (1 - s) * (1 - 2 * s) ** 2 - 2 * (s * (1 - s)) ** 2)(1 / (1 + np.exp(-v)))),
    ("exp", lambda x: x.exp(), np.exp),
], ids=["tanh", "sigmoid", "exp"])
def test_third_derivative(name, fn, third):
    values = np.array([-0.7, 0.2, 1.3])
    x = f64(values)
    (d1,) = mg.grad(fn(x).sum(), x, create_graph=True)
    (d2,) = mg.grad(d1.sum(), x, create_graph=True)
    (d3,) = mg.grad(d2.sum(), x)
    np.testing.assert_allclose(d3.data, third(values), rtol=1e-10)
    # and gradgradcheck of the first derivative checks third derivatives numerically
    first = lambda t: mg.grad(fn(t).sum(), t, create_graph=True)[0]  # noqa: E731
    assert mg.gradgradcheck(first, [f64(values)])


def test_leaf_grads_own_their_memory_even_when_the_graph_hands_out_views():
    # Add gives one gradient array to both operands; a reshape makes one of them a view.
    a = mg.ones(2, 2, requires_grad=True)
    b = mg.ones(4, requires_grad=True)
    (a.reshape(4) + b).backward(mg.ones(4))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 0  # clipping one gradient in place leaves the other alone
    assert b.grad.tolist() == [1.0, 1.0, 1.0, 1.0]
    # The caller's gradient, passed through views, is never adopted as a leaf's .grad.
    x = mg.ones(2, 2, requires_grad=True)
    upstream = mg.tensor([1.0, 2.0, 3.0, 4.0])
    x.reshape(4).backward(upstream)
    assert not np.shares_memory(x.grad.data, upstream.data)
    assert x.grad.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_changing_a_saved_input_in_place_is_an_error_not_a_wrong_gradient():
    a = mg.tensor([1.0, 2.0])
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    h = (a * w).sum()  # Mul saved a
    a += 1.0
    with pytest.raises(RuntimeError, match="Mul: an input .* changed in place"):
        h.backward()
    y = w.exp()
    with mg.no_grad():
        y += 1.0  # exp's backward uses its output
    with pytest.raises(RuntimeError, match="Exp: its output .* changed in place"):
        y.sum().backward()


def test_an_optimizer_step_makes_a_graph_that_saved_the_parameter_stale():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    mg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_grad_mode_belongs_to_each_thread():
    import threading

    inside = threading.Event()
    release = threading.Event()

    def other_thread():
        with mg.no_grad():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other_thread)
    worker.start()
    inside.wait(5)
    try:
        assert mg.is_grad_enabled()  # the other thread's no_grad does not reach this one
        w = mg.tensor([1.0], requires_grad=True)
        assert (w * 2).requires_grad
    finally:
        release.set()
        worker.join()


def test_mg_grad_results_own_their_memory():
    q = mg.ones(3, requires_grad=True)
    (g,) = mg.grad(q.sum(), q)  # the engine's answer is a read-only broadcast view
    g.data *= 2  # writable, and nothing else changes
    a = mg.ones(2, requires_grad=True)
    b = mg.ones(2, requires_grad=True)
    upstream = mg.tensor([1.0, 2.0])
    ga, gb = mg.grad(a + b, [a, b], grad_outputs=upstream)
    assert not np.shares_memory(ga.data, gb.data)
    assert not np.shares_memory(ga.data, upstream.data)


@pytest.mark.parametrize("op, changed", [
    (lambda t: t.relu(), "output"),  # relu's mask comes from its output
    (lambda t: t.abs(), "input"),
    (lambda t: t.clip(-0.5, 0.5), "input"),
    (lambda t: mg.maximum(t, 0.1), "input"),
    (lambda t: t.max(axis=0, keepdims=True), "input"),
], ids=["relu", "abs", "clip", "maximum", "max"])
def test_piecewise_ops_build_their_masks_from_saved_tensors(op, changed):
    x = mg.tensor([[-1.0, 0.2], [0.3, 2.0]])
    w = mg.tensor([[1.0, 1.0], [1.0, 1.0]], requires_grad=True)
    h = x * w
    y = op(h)
    with mg.no_grad():
        if changed == "input":
            h += 1.0
        else:
            y += 1.0
    with pytest.raises(RuntimeError, match="changed in place"):
        y.sum().backward()
