"""Fourteen questions about batch normalization, each answered by a short computation.

The companion of docs/batchnorm.md: the same fourteen questions, each answered here in one
sentence whose numbers are computed as it runs, so you can change the inputs and look
again. Each answer also checks itself with an assert, so a wrong claim stops the script.

    python examples/batchnorm_questions.py            # all questions
    python examples/batchnorm_questions.py 8 13       # only questions 8 and 13
"""

import argparse

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

EPS = 1e-5
# Three examples (rows) of three units (columns) on very different scales.
DESIGN = np.array([[1.0, 10.0, 100.0], [2.0, 30.0, 300.0], [6.0, 20.0, 800.0]])


def batch_norm(x, weight=None, bias=None, impl="composed", eps=EPS):
    """Training-mode batch norm of a NumPy array or Tensor, no running statistics."""
    x = x if isinstance(x, mg.Tensor) else mg.tensor(x)
    return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps, impl=impl)


def fmt(value, digits=3):
    """A number or a small array, rounded for reading (a tiny difference keeps its size)."""
    value = np.asarray(value)
    if value.ndim == 0:
        return f"{value:.{digits}g}" if value.dtype.kind == "f" else str(value)
    return np.array2string(value, precision=digits, suppress_small=True, separator=", ")


def answer(number, question, sentence):
    """Print one question and its answer, a sentence with the numbers just computed."""
    print(f"\nQuestion {number}: {question}")
    print(f"Answer {number}: {sentence}")


def q1_axis(draw):
    design = DESIGN
    out = batch_norm(design).data
    answer(1, "in a design matrix (rows examples, columns units), which axis does the batch mean run over?",
           f"down each column, axis 0 (the batch axis): for three examples of three units on very "
           f"different scales the unit means are {fmt(design.mean(axis=0))}, and after batch norm "
           f"every column has mean "
           f"{fmt(abs(out.mean(axis=0)).max())} and variance {fmt(out.var(axis=0), 4)}.")
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)


def q2_three_normalizations(draw):
    design = DESIGN
    per_unit = batch_norm(design).data
    per_example = (design - design.mean(axis=1, keepdims=True)) / np.sqrt(design.var(axis=1, keepdims=True) + EPS)
    whole = (design - design.mean()) / np.sqrt(design.var() + EPS)
    answer(2, "is normalizing each unit over the batch the same as each example over its units, or one mean for everything?",
           f"no, three different results: per unit (batch norm) the first row becomes {fmt(per_unit[0], 2)}, "
           f"per example (layer norm) {fmt(per_example[0], 2)}, and with one mean and deviation "
           f"{fmt(whole[0], 2)}, where unit 3 still dominates.")
    assert not np.allclose(per_unit, per_example) and not np.allclose(per_unit, whole)


def q3_formula(draw):
    x = draw.standard_normal((4, 3)) * 3 + 1
    gamma, beta = draw.standard_normal(3), draw.standard_normal(3)
    by_hand = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPS) + beta
    out = batch_norm(x, mg.tensor(gamma), mg.tensor(beta)).data
    answer(3, "what is the exact formula, and are gamma and beta per unit?",
           f"y = gamma * (x - mean) / sqrt(var + eps) + beta with the biased batch variance, and gamma "
           f"and beta have one entry per unit (shape {gamma.shape} here): minigrad's output differs "
           f"from the formula by at most {fmt(np.abs(out - by_hand).max())}.")
    np.testing.assert_allclose(out, by_hand, rtol=1e-10)


def q4_images(draw):
    x = draw.standard_normal((4, 3, 5, 5)) + np.array([0.0, 5.0, -5.0]).reshape(1, 3, 1, 1)
    layer = nn.BatchNorm2d(3, momentum=1.0).double()
    layer(mg.tensor(x))
    answer(4, "for images (N, C, H, W), over which axes are the statistics taken?",
           f"per channel, over N, H and W together (axes (0, 2, 3)): NumPy's means over those axes, "
           f"{fmt(x.mean(axis=(0, 2, 3)))}, are exactly what BatchNorm2d recorded, "
           f"{fmt(layer.running_mean.data)}.")
    np.testing.assert_allclose(layer.running_mean.data, x.mean(axis=(0, 2, 3)), rtol=1e-10)


def q5_parameter_count(draw):
    counts = []
    for layer, channels in ((nn.BatchNorm1d(50), 50), (nn.BatchNorm2d(30), 30)):
        buffers = dict(layer.named_buffers())
        trainable = sum(p.numel() for p in layer.parameters())
        statistics = buffers["running_mean"].numel() + buffers["running_var"].numel()
        assert trainable + statistics == 4 * channels
        counts.append((type(layer).__name__, channels, trainable, statistics,
                       buffers["num_batches_tracked"].numel()))
    (name1, c1, t1, s1, n1), (name2, c2, t2, s2, _) = counts
    answer(5, "why does Keras report 4*C numbers for a BatchNorm of C features, 2*C of them not trainable?",
           f"it counts the running mean and variance, which no gradient touches, with gamma and beta: "
           f"{name1}({c1}) trains {t1} and keeps {s1} statistics, {t1 + s1} in all, and {name2}({c2}) "
           f"{t2} and {s2}, {t2 + s2} in all; PyTorch and minigrad keep {n1} step counter more.")


def q6_placement(draw):
    mg.manual_seed(0)
    block = nn.Sequential(nn.Linear(10, 6, bias=False), nn.BatchNorm1d(6), nn.ReLU())
    u = mg.tensor(draw.standard_normal((32, 10)).astype(np.float32))
    pre = block[1](block[0](u)).data
    answer(6, "does the layer normalize a layer's pre-activations or the previous layer's output?",
           f"the pre-activations, g(BN(W u)) with no bias in the linear layer: the values BatchNorm hands "
           f"to the ReLU have per-unit means within {fmt(abs(pre.mean(axis=0)).max())} of zero, and the "
           f"ReLU then zeroes {fmt((block(u).data == 0).mean(), 2)} of them.")
    np.testing.assert_allclose(pre.mean(axis=0), 0, atol=1e-5)


def q7_whitening(draw):
    x = draw.standard_normal((64, 3)) @ np.array([[1, 0, 0], [0.9, 0.4, 0], [0.5, 0.5, 0.5]]).T
    centered = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centered.T @ centered / 64)
    whitened = centered @ vectors @ np.diag(values ** -0.5) @ vectors.T
    per_dim = batch_norm(x, eps=0.0).data
    correlation = (per_dim.T @ per_dim / 64)[0, 1]
    answer(7, "why normalize each dimension on its own instead of whitening them jointly?",
           f"whitening needs the full covariance and its inverse square root ({512 + 512 * 513 // 2} "
           f"statistics for 512 units against {2 * 512}, and a gradient through the eigendecomposition); "
           f"batch norm gives each unit variance 1 but leaves correlations, here "
           f"{fmt(correlation, 2)} between units 1 and 2, which whitening removes.")
    np.testing.assert_allclose(whitened.T @ whitened / 64, np.eye(3), atol=1e-10)


def q8_identity(draw):
    x = draw.standard_normal((6, 2)) * [3.0, 0.5] + [4.0, -1.0]
    right = batch_norm(x, mg.tensor(np.sqrt(x.var(axis=0) + EPS)), mg.tensor(x.mean(axis=0))).data
    wrong = batch_norm(x, mg.tensor(x.var(axis=0)), mg.tensor(x.mean(axis=0))).data
    answer(8, "which gamma and beta make the layer the identity?",
           f"gamma = sqrt(Var[x] + eps) and beta = E[x] give back x to within "
           f"{fmt(np.abs(right - x).max())}, while gamma = Var[x] misses by "
           f"{fmt(np.abs(wrong - x).max())}.")
    np.testing.assert_allclose(right, x, rtol=1e-10)


def q9_two_variances(draw):
    x = draw.standard_normal((4, 3))
    layer = nn.BatchNorm1d(3, momentum=1.0).double()
    y = layer(mg.tensor(x)).data
    batches = draw.standard_normal((20000, 4))
    answer(9, "why does the biased variance normalize while the running variance is the unbiased one?",
           f"the batch is normalized by its own (biased) variance, so its output has variance "
           f"{fmt(y.var(axis=0), 4)}, while running_var keeps an estimate of the population's, and "
           f"over many batches of 4 from a variance-1 distribution the biased variance averages "
           f"{fmt(batches.var(axis=1).mean())} and the unbiased one "
           f"{fmt(batches.var(axis=1, ddof=1).mean())}.")
    np.testing.assert_allclose(layer.running_var.data, x.var(axis=0, ddof=1), rtol=1e-10)


def step_by_step_backward(draw):
    """The paper's backward equations in NumPy, for a batch of 6 examples of 3 units."""
    m = 6
    x, gamma, dy = draw.standard_normal((m, 3)), draw.standard_normal(3), draw.standard_normal((m, 3))
    mu, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + EPS)
    xhat = (x - mu) / std
    dxhat = dy * gamma
    dvar = -0.5 * (dxhat * (x - mu)).sum(axis=0) * (var + EPS) ** -1.5
    dmu = -(dxhat / std).sum(axis=0) + dvar * (-2 / m) * (x - mu).sum(axis=0)
    dx = dxhat / std + dvar * 2 * (x - mu) / m + dmu / m
    return x, gamma, dy, xhat, dx


def q10_backward(draw):
    x, gamma, dy, xhat, dx = step_by_step_backward(draw)
    xt, gt = mg.tensor(x, requires_grad=True), mg.tensor(gamma, requires_grad=True)
    bt = mg.zeros(3, dtype="float64", requires_grad=True)
    gx, gg, gb = mg.grad(batch_norm(xt, gt, bt), [xt, gt, bt], grad_outputs=mg.tensor(dy))
    answer(10, "what are the backward equations for dL/dxhat, dL/dvar, dL/dmu, dL/dx, dL/dgamma, dL/dbeta?",
           f"the paper's six chain-rule steps (written out in step_by_step_backward) agree with "
           f"autograd to {fmt(np.abs(gx.data - dx).max())} for dL/dx, "
           f"{fmt(np.abs(gg.data - (dy * xhat).sum(axis=0)).max())} for dL/dgamma = sum(dy * xhat) and "
           f"{fmt(np.abs(gb.data - dy.sum(axis=0)).max())} for dL/dbeta = sum(dy).")
    np.testing.assert_allclose(gx.data, dx, rtol=1e-10, atol=1e-12)


def q11_inference(draw):
    layer = nn.BatchNorm1d(2).double()
    for _ in range(200):
        layer(mg.tensor(draw.standard_normal((16, 2)) * [1.0, 3.0] + [2.0, -1.0]))
    batch = draw.standard_normal((5, 2)) * [1.0, 3.0] + [2.0, -1.0]
    other = np.concatenate([batch[:1], draw.standard_normal((4, 2))])
    train_change = np.abs(layer(mg.tensor(batch)).data[0] - layer(mg.tensor(other)).data[0]).max()
    layer.eval()
    eval_change = np.abs(layer(mg.tensor(batch)).data[0] - layer(mg.tensor(other)).data[0]).max()
    answer(11, "how does inference use population statistics instead of the batch's?",
           f"in eval mode the layer normalizes with its running statistics (mean "
           f"{fmt(layer.running_mean.data, 2)}, variance {fmt(layer.running_var.data, 2)} after 200 "
           f"steps), so example 0's output changes by {fmt(eval_change)} when the rest of its batch "
           f"changes, against {fmt(train_change, 2)} in training mode.")
    assert train_change > 1e-3 and eval_change == 0


def q12_convolutions(draw):
    mg.manual_seed(0)
    conv, layer = nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
    out = layer(conv(mg.tensor(draw.standard_normal((8, 3, 6, 6)).astype(np.float32)))).data
    answer(12, "how does batch normalization work in a convolutional network?",
           f"one gamma and beta per channel (shape {layer.weight.shape}), statistics over the "
           f"8 * 6 * 6 = 288 values of each channel, so every channel comes out with mean within "
           f"{fmt(abs(out.mean(axis=(0, 2, 3))).max())} of 0 and variance "
           f"{fmt(out.var(axis=(0, 2, 3)), 4)}.")


def q13_bias_cancellation(draw):
    u = draw.standard_normal(8)
    target = draw.standard_normal(8) + 1.0
    b = mg.tensor(0.0, dtype="float64", requires_grad=True)
    x = mg.tensor(u) + b
    correct = mg.grad(0.5 * ((x - x.mean() - mg.tensor(target)) ** 2).sum(), b)[0].item()
    b_value, losses = 0.0, []
    for _ in range(50):  # the naive scheme: the mean is recomputed, but not differentiated
        xhat = u + b_value - (u + b_value).mean()
        losses.append(0.5 * ((xhat - target) ** 2).sum())
        b_value -= 0.1 * (xhat - target).sum()
    answer(13, "what happens to a bias b before the normalization if the gradient step ignores that E[x] depends on b?",
           f"with the mean in the graph b's gradient is {fmt(correct)}, but the naive step moves b to "
           f"{fmt(b_value)} in 50 steps while the loss stays at {fmt(losses[0], 4)} "
           f"(last {fmt(losses[-1], 4)}): every update is cancelled by the mean.")
    assert abs(correct) < 1e-12 and abs(b_value) > 30 and np.allclose(losses, losses[0])


def q14_closed_form(draw):
    x, gamma, dy, xhat, dx = step_by_step_backward(draw)
    m = x.shape[0]
    std = np.sqrt(x.var(axis=0) + EPS)
    closed = gamma / (m * std) * (m * dy - dy.sum(axis=0) - xhat * (dy * xhat).sum(axis=0))
    xt = mg.tensor(x, requires_grad=True)
    (fused,) = mg.grad(batch_norm(xt, mg.tensor(gamma), impl="fused"), xt, grad_outputs=mg.tensor(dy))
    answer(14, "why is the second term of dL/dmu zero, why does dL/dx not sum away, and what is its closed form?",
           f"the term carries sum(x - mean), here {fmt(np.abs((x - x.mean(axis=0)).sum(axis=0)).max())}; "
           f"dL/dx keeps one entry per example (the smallest {fmt(np.abs(dx).min(), 2)} in size, while "
           f"they sum over the batch to {fmt(np.abs(dx.sum(axis=0)).max())}); and the closed form "
           f"gamma / (m * std) * (m * dy - sum(dy) - xhat * sum(dy * xhat)) matches the step-by-step "
           f"result to {fmt(np.abs(closed - dx).max())} and the fused kernel to "
           f"{fmt(np.abs(closed - fused.data).max())}.")
    np.testing.assert_allclose(fused.data, closed, rtol=1e-10, atol=1e-12)


QUESTIONS = {
    1: q1_axis, 2: q2_three_normalizations, 3: q3_formula, 4: q4_images, 5: q5_parameter_count,
    6: q6_placement, 7: q7_whitening, 8: q8_identity, 9: q9_two_variances, 10: q10_backward,
    11: q11_inference, 12: q12_convolutions, 13: q13_bias_cancellation, 14: q14_closed_form,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("questions", nargs="*", type=int, help="question numbers, 1 to 14 (none: all)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.questions if n not in QUESTIONS]
    if unknown:
        parser.error(f"no question {unknown}: choose from 1 to {len(QUESTIONS)}")
    chosen = args.questions or sorted(QUESTIONS)
    np.set_printoptions(linewidth=100)
    for number in chosen:
        QUESTIONS[number](np.random.default_rng(number))
    print(f"\n{len(chosen)} question(s) answered, every check passed.")
    return chosen


if __name__ == "__main__":
    main()
