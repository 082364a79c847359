"""nn.summary: shapes, counts (Keras's 4*C for a BatchNorm of C), and no side effects."""

import numpy as np

from minigrad import nn


def test_summary_rows_counts_and_no_side_effects(capsys):
    model = nn.Sequential(nn.Linear(10, 30, bias=False), nn.BatchNorm1d(30), nn.ReLU(), nn.Linear(30, 3))
    model.train()
    before = {name: value.copy() for name, value in model.state_dict().items()}
    text = nn.summary(model, (4, 10))
    assert capsys.readouterr().out == ""  # returned, not printed: print(nn.summary(...)) shows it once
    assert repr(text) == str(text) and isinstance(text, str)
    lines = text.splitlines()
    assert lines[2].split()[:2] == ["0", "(Linear)"] and "(4, 30)" in lines[2]
    batchnorm_row = lines[3].split()
    assert batchnorm_row[-2:] == ["60", "60"]  # gamma, beta trained; running mean, var not: 4*C in all
    assert "(4, 3)" in lines[5]
    assert text.splitlines()[-1] == "Total: trainable 453, non-trainable 60, all 513"
    assert model.training and all(m.training for m in model.modules())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert "forward" not in model[0].__dict__


def test_summary_uses_the_parameters_dtype():
    model = nn.Sequential(nn.Linear(2, 2)).double()
    assert "(1, 2)" in nn.summary(model, (1, 2))
    assert model[0].weight.dtype == np.float64


def test_print_shows_the_table_once(capsys):
    model = nn.Sequential(nn.Linear(3, 2))
    print(nn.summary(model, (1, 3)))
    out = capsys.readouterr().out
    assert out.count("Layer (type)") == 1 and out.count("Total:") == 1


def test_input_shape_without_the_batch_axis_is_refused_up_front():
    import pytest

    model = nn.Sequential(nn.Linear(64, 8), nn.BatchNorm1d(8))
    with pytest.raises(ValueError, match=r"nn.summary: input_shape \(64,\) has no batch axis; input_shape "
                                         r"includes the batch axis, e.g. \(1, 64\)"):
        nn.summary(model, (64,))
    with pytest.raises(TypeError, match="nn.summary: input_shape must be a tuple of ints"):
        nn.summary(model, 64)
    with pytest.raises(ValueError, match="must hold positive sizes"):
        nn.summary(model, (0, 64))


def test_a_failing_model_names_the_shape_and_the_layer():
    import pytest

    model = nn.Sequential(nn.Linear(64, 8), nn.Linear(9, 2))
    with pytest.raises(ValueError) as caught:
        nn.summary(model, (2, 64))
    message = str(caught.value)
    assert message.startswith("nn.summary: the model failed on zeros of input_shape (2, 64) (the batch axis included): ")
    assert "Sequential[1] (Linear(in_features=9" in message
    assert "forward" not in model[0].__dict__  # the recording hooks are gone
