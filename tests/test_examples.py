"""The examples run end to end, learn, write their PNGs, save models that load back, and
still train without the examples extra (tqdm, matplotlib)."""

import gzip
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NAMES = ["digits_cnn", "digits_mlp", "moons", "mnist", "predict"]
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
needs_matplotlib = pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib (the examples extra) is not installed")


def load_example(name, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))  # examples import their shared examples/training.py
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, *args, cwd, prelude="", timeout=600):
    """``python examples/NAME.py ARGS`` in a fresh process (with ``prelude`` run first)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = str(EXAMPLES / f"{name}.py")
    if prelude:
        code = (f"import runpy, sys\n{prelude}\nsys.path.insert(0, {str(EXAMPLES)!r})\n"
                f"sys.argv = [{script!r}] + {list(args)!r}\nrunpy.run_path({script!r}, run_name='__main__')")
        command = [sys.executable, "-c", code]
    else:
        command = [sys.executable, script, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def accuracies_printed(output):
    return [float(value) for value in re.findall(r"test accuracy (\d+\.\d)%", output)]


# ---------------------------------------------------------------- every example
@pytest.mark.parametrize("name", NAMES)
def test_help_shows_defaults(name, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_status:
        load_example(name, monkeypatch).main(["--help"])
    assert exit_status.value.code == 0
    shown = capsys.readouterr().out
    assert "(default: out)" in shown
    if name != "predict":
        assert re.search(r"--epochs EPOCHS\s+passes over the training data \(default: \d+\)", shown)
        assert "--seed" in shown
    if name not in ("mnist", "predict"):
        assert "--impl" in shown


@needs_matplotlib
@pytest.mark.parametrize("name, epochs", [("digits_cnn", "1"), ("digits_mlp", "1"), ("moons", "2")])
def test_examples_run_as_scripts_and_write_their_png(name, epochs, tmp_path):
    result = run(name, "--epochs", epochs, "--out", "results", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "results" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r"Numba warm-up \d+\.\d\d s", result.stdout)
    assert "batch/s" in result.stderr  # tqdm's bar
    if name != "moons":
        assert len(accuracies_printed(result.stdout)) == int(epochs)
        assert re.search(r"training \d+\.\d\d s, whole run \d+\.\d s", result.stdout)


def test_epochs_zero_and_bad_arguments(monkeypatch, tmp_path, capsys):
    moons = load_example("moons", monkeypatch)
    results = moons.main(["--epochs", "0", "--no-progress", "--out", str(tmp_path)])
    assert set(results) == {"composed", "fused"}
    assert "untrained (0 epochs)" in capsys.readouterr().out
    cnn = load_example("digits_cnn", monkeypatch)
    _, history = cnn.main(["--epochs", "0", "--no-progress", "--out", str(tmp_path)])
    assert history["test_accuracy"] == [] and "0 epochs, untrained" in capsys.readouterr().out
    for bad in (["--epochs", "-1"], ["--batch-size", "0"]):
        with pytest.raises(SystemExit) as exit_status:
            cnn.main(bad)
        assert exit_status.value.code == 2
        assert "must be" in capsys.readouterr().err


def test_examples_train_without_tqdm_and_matplotlib(tmp_path):
    hide = "sys.modules['tqdm'] = None; sys.modules['matplotlib'] = None  # as if not installed"
    result = run("digits_mlp", "--epochs", "2", "--out", "results", cwd=tmp_path, prelude=hide)
    assert result.returncode == 0, result.stderr
    assert len(accuracies_printed(result.stdout)) == 2
    assert 'tqdm is not installed' in result.stdout and 'matplotlib is not installed' in result.stdout
    assert result.stdout.count('pip install -e ".[examples]"') == 2
    assert not (tmp_path / "results" / "digits_mlp.png").exists()


# ---------------------------------------------------------------- digits_cnn: the real configuration
@pytest.fixture(scope="module")
def trained_cnn(tmp_path_factory):
    """digits_cnn.py's default configuration, run once in this process."""
    patcher = pytest.MonkeyPatch()
    try:
        example = load_example("digits_cnn", patcher)
        out = tmp_path_factory.mktemp("digits_cnn")
        model, history = example.main(["--out", str(out), "--no-progress"])
        training = sys.modules["training"]
        yield example, training, model, history, out
    finally:
        patcher.undo()


def test_digits_cnn_default_configuration_reaches_98_percent(trained_cnn):
    _, _, _, history, out = trained_cnn
    assert history["test_accuracy"][-1] >= 0.98, history["test_accuracy"]
    assert (out / "digits_cnn.npz").exists()
    if HAS_MATPLOTLIB:
        assert (out / "digits_cnn.png").read_bytes()[:4] == b"\x89PNG"


def test_a_saved_digits_cnn_loads_into_a_fresh_model_with_identical_predictions(trained_cnn):
    _, training, model, _, out = trained_cnn
    (_, _), (images, _) = training.digits_split()
    mg.manual_seed(123)  # other initial weights: the loaded ones must replace them all
    fresh = training.digits_cnn()
    fresh.load_state_dict(mg.load(out / "digits_cnn.npz"))
    expected = training.predict(model, images)
    assert np.array_equal(training.predict(fresh, images), expected)
    assert not np.array_equal(training.predict(training.digits_cnn(), images), expected)


def test_predict_example_reads_the_saved_model(trained_cnn, tmp_path):
    _, _, _, _, out = trained_cnn
    result = run("predict", "--out", str(out), "--count", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("image ")]
    assert len(lines) == 4
    for line in lines:
        true, predicted = re.search(r"true (\d), predicted (\d)", line).groups()
        probabilities = [float(p) for p in re.findall(r"\d:(\d\.\d\d)", line)]
        assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 0.03
    assert sum(re.search(r"true (\d), predicted (\d)", l).group(1) == re.search(r"predicted (\d)", l).group(1)
               for l in lines) >= 3
    missing = run("predict", "--out", str(tmp_path / "nothing"), cwd=tmp_path)
    assert missing.returncode == 2 and "run examples/digits_cnn.py" in missing.stderr


# ---------------------------------------------------------------- moons
def test_moons_learns_and_both_batchnorms_agree(monkeypatch, tmp_path, capsys):
    results = load_example("moons", monkeypatch).main(["--epochs", "10", "--out", str(tmp_path), "--no-progress"])
    for impl, (loss, accuracy) in results.items():
        assert accuracy > 0.9, f"{impl}: test accuracy {accuracy}"
    assert results["composed"][0] == pytest.approx(results["fused"][0], rel=1e-3)
    output = capsys.readouterr().out
    assert "test accuracy" in output and "Numba warm-up" in output
    if HAS_MATPLOTLIB:
        assert (tmp_path / "moons.png").read_bytes()[:4] == b"\x89PNG"


def test_moons_epoch_is_one_pass_and_the_loss_its_mean(monkeypatch):
    moons = load_example("moons", monkeypatch)
    training = sys.modules["training"]
    points, labels = moons.make_moons(70, 0.1, seed=0)
    seen = []

    class Recording(mg.data.DataLoader):
        def __iter__(self):
            for batch in super().__iter__():
                seen.extend(batch[1].tolist())
                yield batch

    mg.manual_seed(0)
    model = moons.build_model("composed")
    loader = Recording((points, labels), batch_size=32, shuffle=True, seed=0)
    loss, accuracy = training.train_epoch(model, moons.HandSGD(model.parameters(), lr=0.0), loader)
    assert sorted(seen) == sorted(labels.tolist())  # every point once
    # with lr 0 the weights stay, so the epoch's loss is the size-weighted mean of its three
    # batches' (a loader with the same seed gives the same first epoch)
    batches = list(mg.data.DataLoader((points, labels), batch_size=32, shuffle=True, seed=0))
    assert [len(y.data) for _, y in batches] == [32, 32, 6]
    model.train()
    expected = sum(F.cross_entropy(model(x), y).item() * len(y.data) for x, y in batches) / 70
    assert loss == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- mnist
def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.tobytes()))


@needs_matplotlib
def test_mnist_on_small_idx_files(tmp_path):
    data = tmp_path / "mnist"
    data.mkdir()
    draw = np.random.default_rng(0)
    for part, count in (("train", 96), ("t10k", 32)):
        labels = draw.integers(0, 10, count).astype(np.uint8)
        images = np.zeros((count, 28, 28), np.uint8)
        for i, label in enumerate(labels):  # a learnable picture: a bright bar at a label's row
            images[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
        write_idx(data / f"{part}-images-idx3-ubyte.gz", images)
        write_idx(data / f"{part}-labels-idx1-ubyte.gz", labels)
    result = run("mnist", "--data-dir", str(data), "--epochs", "2", "--batch-size", "16", "--out", "results",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "96 training and 32 test images" in result.stdout
    assert len(accuracies_printed(result.stdout)) == 2
    assert (tmp_path / "results" / "mnist.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "results" / "mnist.npz").exists()


def test_mnist_without_files_says_where_to_put_them(tmp_path):
    result = run("mnist", "--data-dir", str(tmp_path / "absent"), cwd=tmp_path)
    assert result.returncode == 2
    assert "train-images-idx3-ubyte" in result.stderr and "downloads nothing" in result.stderr


def test_batchnorm_questions_all_answer_and_check_themselves(monkeypatch, capsys):
    answered = load_example("batchnorm_questions", monkeypatch).main([])
    assert answered == list(range(1, 15))
    assert "14 question(s) answered, every check passed." in capsys.readouterr().out


def test_warm_up_leaves_the_model_as_it_was(monkeypatch):
    load_example("digits_cnn", monkeypatch)
    training = sys.modules["training"]
    (images, labels), _ = training.digits_split()
    mg.manual_seed(0)
    model = training.digits_cnn()
    before = model.state_dict()
    seconds = training.warm_up(model, images[:16], labels[:16])
    assert seconds > 0 and model.training
    after = model.state_dict()
    assert all(np.array_equal(before[name], after[name]) for name in before)  # running stats too
    assert all(p.grad is None for p in model.parameters())
