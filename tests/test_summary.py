"""nn.summary: shapes, counts (Keras's 4*C for a BatchNorm of C), and no side effects."""

import numpy as np

from minigrad import nn


def test_summary_rows_counts_and_no_side_effects(capsys):
    model = nn.Sequential(nn.Linear(10, 30, bias=False), nn.BatchNorm1d(30), nn.ReLU(), nn.Linear(30, 3))
    model.train()
    before = {name: value.copy() for name, value in model.state_dict().items()}
    text = nn.summary(model, (4, 10))
    assert capsys.readouterr().out.strip() == text.strip()
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
