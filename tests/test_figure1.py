"""examples/bn_paper_figure1.py: Ioffe and Szegedy's Figure 1 in miniature."""

import importlib.util
import pathlib

import numpy as np
import pytest

pytest.importorskip("matplotlib")

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "bn_paper_figure1.py"


def load_example():
    spec = importlib.util.spec_from_file_location("bn_paper_figure1", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_drift(history, skip):
    """How far the median sigmoid input wanders once training is under way."""
    return np.ptp(history["percentiles"][skip:, 1])


def test_runs_end_to_end_and_writes_its_png(tmp_path, capsys):
    out = tmp_path / "figure1.png"
    histories = load_example().main(["--steps", "200", "--eval-every", "20", "--out", str(out)])
    assert out.read_bytes().startswith(b"\x89PNG") and out.stat().st_size > 20_000
    plain, normed = histories["without BatchNorm"], histories["with BatchNorm"]
    for history in (plain, normed):
        assert history["steps"][0] == 0 and history["steps"][-1] == 200
        assert history["percentiles"].shape == (len(history["steps"]), 3)
        assert (np.diff(history["percentiles"], axis=1) >= 0).all()  # 15th <= 50th <= 85th
    # after 200 steps the BatchNorm network has learned, the plain one has barely started
    assert normed["accuracy"][-1] > 0.9 > 0.5 > plain["accuracy"][-1]
    # and its sigmoid's median input has moved less since the first evaluation
    assert median_drift(normed, 1) < median_drift(plain, 1)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow
def test_default_settings_show_the_papers_figure(tmp_path):
    """The default run (about 35 s of CPU): BatchNorm ends more accurate, with a narrower
    band between the 15th and 85th percentiles and a steadier median."""
    example = load_example()
    histories = example.main(["--out", str(tmp_path / "figure1.png")])
    plain, normed = histories["without BatchNorm"], histories["with BatchNorm"]
    assert normed["accuracy"][-1] > plain["accuracy"][-1]
    band = lambda history: history["percentiles"][-1, 2] - history["percentiles"][-1, 0]
    assert band(normed) < band(plain)
    skip = len(plain["steps"]) // 10
    assert median_drift(normed, skip) < median_drift(plain, skip)


def write_idx(path, array):
    """An IDX file of unsigned bytes (MNIST's format): magic, the shape, the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_reads_mnist_from_a_data_dir(tmp_path):
    rng = np.random.default_rng(0)
    for part, count in (("train", 120), ("t10k", 40)):
        write_idx(tmp_path / f"{part}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)))
        write_idx(tmp_path / f"{part}-labels-idx1-ubyte", rng.integers(0, 10, count))
    out = tmp_path / "figure1.png"
    histories = load_example().main(["--data-dir", str(tmp_path), "--steps", "4",
                                      "--eval-every", "2", "--out", str(out)])
    assert out.read_bytes().startswith(b"\x89PNG")
    assert histories["with BatchNorm"]["steps"] == [0, 2, 4]
