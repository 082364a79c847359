"""mg.onnx.export: ONNX Runtime gives minigrad's eval outputs, for any batch size.

Skipped where onnx or onnxruntime is not installed (``pip install 'minigrad[onnx]'``).
"""

import importlib.util
import pathlib
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn
from models import LAYERS as SHARED_LAYERS, digits_cnn, mlp_with_batchnorm, with_statistics

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def export_and_run(model, shape, tmp_path, example_batch=3, batch_sizes=(1, 7), **kwargs):
    """Export on an example of ``example_batch``; return the largest difference between
    ONNX Runtime and minigrad over inputs of each batch size."""
    path = tmp_path / "model.onnx"
    rng = np.random.default_rng(1)
    example = mg.tensor(rng.normal(size=(example_batch,) + shape).astype(np.float32))
    proto = mg.onnx.export(model, example, path, **kwargs)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in batch_sizes:
        x = rng.normal(size=(n,) + shape).astype(np.float32)
        (got,) = session.run(None, {"input": x})
        want = model(mg.tensor(x)).numpy()
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"batch {n}")
        worst = max(worst, float(np.abs(got - want).max()))
    return proto, worst


class TensorOps(nn.Module):
    """Every Tensor op the exporter maps, between two Linear layers."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(6, 8)
        self.second = nn.Linear(4, 3)
        self.scale = nn.Parameter(np.linspace(0.5, 1.5, 8).astype(np.float32))

    def forward(self, x):
        h = self.first(x)
        h = (h * self.scale + 0.25) - (1.5 - h.sigmoid()) / 2.0 + 0.1 * h ** 2
        h = h.reshape(-1, 2, 4).transpose(0, 2, 1)                 # (N, 4, 2)
        h = h @ mg.tensor([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]])     # (N, 4, 3)
        h = F.softmax(h, axis=1) + F.log_softmax(h, axis=-1) * 0.1
        h = h.sum(axis=2) + h.max(axis=2) - (-h.exp()).sum(axis=2) * 0.01
        return F.log_softmax(self.second(h.tanh().relu()), axis=1)


LAYERS = {**SHARED_LAYERS, "Tensor ops": (TensorOps, (6,))}


@pytest.mark.parametrize("name", LAYERS)
def test_onnx_runtime_gives_minigrads_eval_output(name, tmp_path):
    mg.manual_seed(0)
    build, shape = LAYERS[name]
    model = with_statistics(build(), shape)
    export_and_run(model, shape, tmp_path)


@pytest.mark.parametrize("example_batch", [1, 7])
def test_any_example_batch_size_gives_a_model_for_every_batch_size(example_batch, tmp_path):
    mg.manual_seed(0)
    model = with_statistics(digits_cnn(), (1, 8, 8))
    export_and_run(model, (1, 8, 8), tmp_path, example_batch=example_batch, batch_sizes=(1, 2, 7))


@pytest.mark.parametrize("opset", [13, 17, 18, onnx.defs.onnx_opset_version()])
def test_opsets(opset, tmp_path):
    # ReduceMax takes its axes as an attribute before opset 18 and as an input from 18 on
    mg.manual_seed(0)
    proto, _ = export_and_run(TensorOps().eval(), (6,), tmp_path, opset=opset)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [opset]


class Elementwise(nn.Module):
    """One elementwise Tensor method on a bounded input (every one of them has a domain)."""

    def __init__(self, method):
        super().__init__()
        self.method = method

    def forward(self, x):
        x = x.tanh() * 0.9  # in (-0.9, 0.9): inside every domain below once shifted
        if self.method in ("arccosh",):
            x = x + 2.0
        return getattr(x, self.method)()


@pytest.mark.parametrize("method", ["sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
                                    "arcsinh", "arccosh", "arctanh", "sign", "floor", "ceil", "abs"])
def test_more_elementwise_ops(method, tmp_path):
    export_and_run(Elementwise(method), (3, 4), tmp_path)


class Statistics(nn.Module):
    def forward(self, x):
        padded = mg.nn.functional.pad(x, (1, 2, 0, 1), value=0.5)
        return padded.mean(axis=(2, 3)) + x.std(axis=-1, ddof=1).sum(axis=-1) + mg.minimum(x, 0.2).var(axis=(2, 3))


def test_mean_var_std_pad_minimum(tmp_path):
    export_and_run(Statistics(), (2, 3, 4), tmp_path)


def test_conv_and_pool_with_padding_same(tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 3, (2, 3), padding="same"), nn.MaxPool2d(2), nn.Conv2d(3, 2, 2, padding="same"))
    export_and_run(with_statistics(model, (2, 6, 7)), (2, 6, 7), tmp_path)


def test_parameters_are_initializers_named_as_the_state_dict(tmp_path):
    mg.manual_seed(0)
    model = with_statistics(digits_cnn(), (1, 8, 8))
    mg.onnx.export(model, mg.randn(2, 1, 8, 8), tmp_path / "m.onnx")
    loaded = onnx.load(str(tmp_path / "m.onnx"))
    initializers = {i.name: onnx.numpy_helper.to_array(i) for i in loaded.graph.initializer}
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    for name, value in state.items():
        np.testing.assert_array_equal(initializers[name], value, err_msg=name)
    assert {"Conv", "BatchNormalization", "MaxPool", "Relu", "MatMul"} <= {n.op_type for n in loaded.graph.node}
    (graph_input,) = loaded.graph.input
    (graph_output,) = loaded.graph.output
    assert graph_input.name == "input" and graph_output.name == "output"
    dims = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert dims(graph_input) == ["batch", 1, 8, 8]
    assert dims(graph_output) == ["batch", 10]


def test_fixed_batch_when_dynamic_batch_is_false(tmp_path):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).eval()
    path = tmp_path / "fixed.onnx"
    proto = mg.onnx.export(model, mg.randn(5, 4), path, dynamic_batch=False)
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [5, 4]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model(mg.tensor(x)).numpy(), atol=1e-6)
    with pytest.raises(Exception):  # the batch size is part of the model now
        session.run(None, {"input": x[:2]})


def test_float64_model_exports_as_float64(tmp_path):
    mg.manual_seed(0)
    model = with_statistics(mlp_with_batchnorm(), (1, 8, 8)).double()
    path = tmp_path / "double.onnx"
    mg.onnx.export(model, mg.randn(3, 1, 8, 8, dtype=np.float64), path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(7, 1, 8, 8))
    (got,) = session.run(None, {"input": x})
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, model(mg.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)


# ---- what cannot be exported: a clear error, and no file ---------------------------------
class Picks(nn.Module):
    def forward(self, x):
        return x[:, :2]


class WithPicker(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.head = Picks()

    def forward(self, x):
        return self.head(self.encoder(x))


def _left_behind(directory):
    return sorted(p.name for p in directory.iterdir())


def test_an_op_without_mapping_names_the_op_and_the_layer_and_writes_nothing(tmp_path):
    path = tmp_path / "picker.onnx"
    with pytest.raises(NotImplementedError, match=r"GetItem.*layer 'head' \(Picks\)"):
        mg.onnx.export(WithPicker(), mg.randn(2, 4), path)
    assert _left_behind(tmp_path) == []


def test_an_existing_file_is_left_as_it_was_when_export_fails(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"an older export")
    with pytest.raises(NotImplementedError):
        mg.onnx.export(WithPicker(), mg.randn(2, 4), path)
    assert path.read_bytes() == b"an older export"
    assert _left_behind(tmp_path) == ["model.onnx"]


class BatchStatistics(nn.Module):
    def forward(self, x):
        return F.batch_norm(x, None, None, training=True)


def test_batch_norm_on_batch_statistics_is_refused(tmp_path):
    with pytest.raises(NotImplementedError, match=r"BatchNormFunction.*the model itself \(BatchStatistics\).*batch's statistics"):
        mg.onnx.export(BatchStatistics(), mg.randn(4, 3), tmp_path / "bn.onnx")
    assert _left_behind(tmp_path) == []


class SplitsBatch(nn.Module):
    def forward(self, x):
        return x.reshape(2, -1)  # (4, 3) -> (2, 6): rows of two samples each


def test_a_reshape_that_splits_the_batch_needs_a_fixed_batch(tmp_path):
    with pytest.raises(NotImplementedError, match=r"Reshape.*dynamic_batch=False"):
        mg.onnx.export(SplitsBatch(), mg.randn(4, 3), tmp_path / "r.onnx")
    assert _left_behind(tmp_path) == []
    path = tmp_path / "r.onnx"
    mg.onnx.export(SplitsBatch(), mg.randn(4, 3), path, dynamic_batch=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(session.run(None, {"input": x})[0], x.reshape(2, 6))


class AddsBatchSizedConstant(nn.Module):
    def forward(self, x):
        return x + mg.ones(4, 3)


def test_a_constant_of_the_batch_size_needs_a_fixed_batch(tmp_path):
    with pytest.raises(NotImplementedError, match=r"Add.*batch size 4.*dynamic_batch=False"):
        mg.onnx.export(AddsBatchSizedConstant(), mg.randn(4, 3), tmp_path / "c.onnx")
    assert _left_behind(tmp_path) == []


class Thresholds(nn.Module):
    def forward(self, x):
        return mg.where(x > 0.5, x, x * 2)  # the mask is made from the data: no graph node


@pytest.mark.parametrize("batch", [1, 6])
def test_a_mask_made_from_the_data_is_refused(batch, tmp_path):
    x = mg.tensor(np.linspace(-1, 1, batch * 8, dtype=np.float32).reshape(batch, 8))
    with pytest.raises(NotImplementedError, match=r"Where.*computed from the data"):
        mg.onnx.export(Thresholds(), x, tmp_path / "w.onnx")
    assert _left_behind(tmp_path) == []


def test_bad_arguments(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="opset"):
        mg.onnx.export(model, mg.randn(1, 2), tmp_path / "a.onnx", opset=9)
    with pytest.raises(ValueError, match="floating point"):
        mg.onnx.export(model, np.ones((1, 2), dtype=np.int64), tmp_path / "a.onnx")
    assert _left_behind(tmp_path) == []


# ---- BatchNorm (and Dropout) in training mode: exported in eval form, with a warning ----
def test_a_model_in_training_mode_is_exported_in_eval_form_with_a_warning(tmp_path):
    mg.manual_seed(0)
    model = with_statistics(mlp_with_batchnorm(), (1, 8, 8)).train()
    before = model.state_dict()
    path = tmp_path / "train.onnx"
    with pytest.warns(UserWarning, match=r"training mode.*eval form.*'2' \(BatchNorm1d\).*'4' \(Dropout\)"):
        mg.onnx.export(model, mg.randn(3, 1, 8, 8), path)
    # the model is left as it was: still training, running statistics untouched
    assert model.training and all(m.training for m in model.modules())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(7, 1, 8, 8)).astype(np.float32)
    want = model.eval()(mg.tensor(x)).numpy()
    np.testing.assert_allclose(session.run(None, {"input": x})[0], want, rtol=1e-5, atol=1e-5)


def test_no_warning_for_a_model_whose_layers_do_not_change_in_eval(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU())  # training mode, but nothing to change
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mg.onnx.export(model, mg.randn(2, 3), tmp_path / "plain.onnx")


def test_export_leaves_no_hook_or_wrapper_behind(tmp_path):
    from minigrad import autograd

    model = WithPicker()
    with pytest.raises(NotImplementedError):
        mg.onnx.export(model, mg.randn(2, 4), tmp_path / "x.onnx")
    assert autograd.node_hook is None
    assert all("forward" not in m.__dict__ for m in model.modules())
    y = model.encoder(mg.randn(2, 4, requires_grad=True))
    assert not hasattr(y._ctx, "export_params")


# ---- the example -------------------------------------------------------------------------
def _export_example(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))  # it imports examples/training.py
    spec = importlib.util.spec_from_file_location("export_example", EXAMPLES / "export.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def _check_example_results(results, output):
    onnx.checker.check_model(onnx.load(str(output)), full_check=True)
    runtimes = ["onnxruntime"] + (["torch"] if importlib.util.find_spec("torch") else [])
    for runtime in runtimes:
        assert results[runtime]["max_difference"] < 1e-4, runtime
        assert results[runtime]["class_agreement"] >= 0.99, runtime
        assert results[runtime]["accuracy"] == pytest.approx(results["minigrad"]["accuracy"], abs=0.01)


def test_export_example_trains_exports_and_agrees(tmp_path, capsys, monkeypatch):
    example = _export_example(monkeypatch)
    output = tmp_path / "digits.onnx"
    results = example.main(["--epochs", "1", "--train-limit", "384", "--batch-size", "16", "--output", str(output)])
    out = capsys.readouterr().out
    assert results["minigrad"]["accuracy"] > 0.3  # ten classes: chance is 0.1
    _check_example_results(results, output)
    assert "ONNX Runtime: largest difference from minigrad" in out and "export took" in out


def test_export_example_loads_the_weights_digits_cnn_saved(tmp_path, capsys, monkeypatch):
    example = _export_example(monkeypatch)
    import training

    mg.manual_seed(3)
    model = with_statistics(training.digits_cnn(), (1, 8, 8))
    mg.save(model.state_dict(), tmp_path / "digits_cnn.npz")
    output = tmp_path / "digits.onnx"
    results = example.main(["--weights", str(tmp_path / "digits_cnn.npz"), "--output", str(output)])
    assert "loaded" in capsys.readouterr().out
    _check_example_results(results, output)
    initializers = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(output)).graph.initializer}
    np.testing.assert_array_equal(initializers["1.running_var"], model.state_dict()["1.running_var"])
