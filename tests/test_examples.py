"""The examples run, learn, and (for moons) agree between the two BatchNorm implementations."""

import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_moons_learns_and_both_batchnorms_agree(capsys):
    results = load_example("moons").main(["--epochs", "10"])
    for impl, (loss, accuracy) in results.items():
        assert accuracy > 0.85, f"{impl}: test accuracy {accuracy}"
    assert results["composed"][0] == pytest.approx(results["fused"][0], rel=1e-3)
    assert "test accuracy" in capsys.readouterr().out


def test_batchnorm_questions_all_answer_and_check_themselves(capsys):
    answered = load_example("batchnorm_questions").main([])
    assert answered == list(range(1, 15))
    assert "14 question(s) answered, every check passed." in capsys.readouterr().out
