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
