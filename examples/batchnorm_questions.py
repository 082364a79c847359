"""Fourteen questions about batch normalization, each answered by a short computation.

The companion of docs/batchnorm.md: the same questions (listed in the background notes),
answered here by printing numbers you can look at and change. Each answer also checks
itself with an assert, so a wrong claim stops the script.

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


def show(title, **values):
    print(f"\n== {title}")
    for name, value in values.items():
        value = np.asarray(value)
        if value.ndim == 0 and value.dtype.kind == "f":
            text = f"{value:.3g}"  # a single difference: show its size, even 1e-16
        else:
            text = np.array2string(value, precision=4, suppress_small=True)
        print(f"   {name}: {text}".replace("\n", "\n" + " " * (len(name) + 5)))


def q1_axis(draw):
    design = DESIGN
    out = batch_norm(design).data
    show("1. rows are examples, columns are units: the batch mean runs down each column (axis 0)",
         design=design, mean_per_unit=design.mean(axis=0), output=out,
         output_column_means=out.mean(axis=0))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)


def q2_three_normalizations(draw):
    design = DESIGN
    per_unit = batch_norm(design).data
    per_example = (design - design.mean(axis=1, keepdims=True)) / np.sqrt(design.var(axis=1, keepdims=True) + EPS)
    whole = (design - design.mean()) / np.sqrt(design.var() + EPS)
    show("2. per unit (batch norm), per example (layer norm), one scalar pair: three different results",
         per_unit=per_unit, per_example=per_example, whole=whole)
    assert not np.allclose(per_unit, per_example) and not np.allclose(per_unit, whole)


def q3_formula(draw):
    x = draw.standard_normal((4, 3)) * 3 + 1
    gamma, beta = draw.standard_normal(3), draw.standard_normal(3)
    by_hand = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPS) + beta
    out = batch_norm(x, mg.tensor(gamma), mg.tensor(beta)).data
    show("3. y = gamma * (x - mean) / sqrt(var + eps) + beta, gamma and beta of shape (C,)",
         gamma=gamma, beta=beta, max_difference_to_formula=np.abs(out - by_hand).max())
    np.testing.assert_allclose(out, by_hand, rtol=1e-10)


def q4_images(draw):
    x = draw.standard_normal((4, 3, 5, 5)) + np.array([0.0, 5.0, -5.0]).reshape(1, 3, 1, 1)
    layer = nn.BatchNorm2d(3, momentum=1.0).double()
    layer(mg.tensor(x))
    show("4. (N, C, H, W): one mean and variance per channel, over axes (0, 2, 3)",
         numpy_mean_over_0_2_3=x.mean(axis=(0, 2, 3)), layer_running_mean=layer.running_mean.data)
    np.testing.assert_allclose(layer.running_mean.data, x.mean(axis=(0, 2, 3)), rtol=1e-10)


def q5_parameter_count(draw):
    for layer, channels in ((nn.BatchNorm1d(50), 50), (nn.BatchNorm2d(30), 30)):
        buffers = dict(layer.named_buffers())
        trainable = sum(p.numel() for p in layer.parameters())
        statistics = buffers["running_mean"].numel() + buffers["running_var"].numel()
        show(f"5. {type(layer).__name__}({channels}): Keras would report {trainable + statistics}",
             trainable_gamma_beta=trainable, running_statistics=statistics,
             extra_counter_num_batches_tracked=buffers["num_batches_tracked"].numel())
        assert trainable + statistics == 4 * channels


def q6_placement(draw):
    mg.manual_seed(0)
    block = nn.Sequential(nn.Linear(10, 6, bias=False), nn.BatchNorm1d(6), nn.ReLU())
    u = mg.tensor(draw.standard_normal((32, 10)).astype(np.float32))
    pre = block[1](block[0](u)).data
    show("6. the paper's placement: g(BN(W u)), no bias in the linear layer",
         pre_activation_means=pre.mean(axis=0), fraction_zeroed_by_relu=(block(u).data == 0).mean())
    np.testing.assert_allclose(pre.mean(axis=0), 0, atol=1e-5)


def q7_whitening(draw):
    x = draw.standard_normal((64, 3)) @ np.array([[1, 0, 0], [0.9, 0.4, 0], [0.5, 0.5, 0.5]]).T
    centered = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centered.T @ centered / 64)
    whitened = centered @ vectors @ np.diag(values ** -0.5) @ vectors.T
    per_dim = batch_norm(x, eps=0.0).data
    show("7. whitening decorrelates (needs a d x d covariance and its inverse square root); batch norm does not",
         covariance_after_whitening=whitened.T @ whitened / 64,
         covariance_after_batch_norm=per_dim.T @ per_dim / 64,
         statistics_for_d_512=np.array([2 * 512, 512 + 512 * 513 // 2]))
    np.testing.assert_allclose(whitened.T @ whitened / 64, np.eye(3), atol=1e-10)


def q8_identity(draw):
    x = draw.standard_normal((6, 2)) * [3.0, 0.5] + [4.0, -1.0]
    right = batch_norm(x, mg.tensor(np.sqrt(x.var(axis=0) + EPS)), mg.tensor(x.mean(axis=0))).data
    wrong = batch_norm(x, mg.tensor(x.var(axis=0)), mg.tensor(x.mean(axis=0))).data
    show("8. gamma = sqrt(Var[x] + eps), beta = E[x] give back x (gamma = Var[x] does not)",
         error_with_sqrt=np.abs(right - x).max(), error_with_var=np.abs(wrong - x).max())
    np.testing.assert_allclose(right, x, rtol=1e-10)


def q9_two_variances(draw):
    x = draw.standard_normal((4, 3))
    layer = nn.BatchNorm1d(3, momentum=1.0).double()
    y = layer(mg.tensor(x)).data
    batches = draw.standard_normal((20000, 4))
    show("9. the batch is normalized with its biased variance; running_var stores the unbiased one",
         output_variance=y.var(axis=0), running_var=layer.running_var.data,
         x_var_ddof1=x.var(axis=0, ddof=1),
         average_biased_variance_of_batches_of_4=batches.var(axis=1).mean(),
         average_unbiased_variance=batches.var(axis=1, ddof=1).mean())
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
    show("10. chain rule by hand vs autograd (largest differences)",
         dx=np.abs(gx.data - dx).max(), dgamma=np.abs(gg.data - (dy * xhat).sum(axis=0)).max(),
         dbeta=np.abs(gb.data - dy.sum(axis=0)).max())
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
    show("11. eval mode uses the running (population) statistics: example 0 no longer depends on the others",
         running_mean=layer.running_mean.data, running_var=layer.running_var.data,
         change_of_example_0_in_train_mode=train_change, in_eval_mode=eval_change)
    assert train_change > 1e-3 and eval_change == 0


def q12_convolutions(draw):
    mg.manual_seed(0)
    conv, layer = nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
    out = layer(conv(mg.tensor(draw.standard_normal((8, 3, 6, 6)).astype(np.float32)))).data
    show("12. after a convolution: per channel, over N*H*W = 8*6*6 = 288 values each",
         gamma_shape=np.array(layer.weight.shape), channel_means=out.mean(axis=(0, 2, 3)),
         channel_variances=out.var(axis=(0, 2, 3)))


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
    show("13. a bias before the mean subtraction: zero gradient; the naive step makes b drift",
         gradient_with_mean_in_graph=correct, b_after_50_naive_steps=b_value,
         loss_first_and_last=np.array([losses[0], losses[-1]]))
    assert abs(correct) < 1e-12 and abs(b_value) > 30 and np.allclose(losses, losses[0])


def q14_closed_form(draw):
    x, gamma, dy, xhat, dx = step_by_step_backward(draw)
    m = x.shape[0]
    std = np.sqrt(x.var(axis=0) + EPS)
    closed = gamma / (m * std) * (m * dy - dy.sum(axis=0) - xhat * (dy * xhat).sum(axis=0))
    xt = mg.tensor(x, requires_grad=True)
    (fused,) = mg.grad(batch_norm(xt, mg.tensor(gamma), impl="fused"), xt, grad_outputs=mg.tensor(dy))
    show("14. sum of (x - mean) is 0; dx keeps one row per example (its rows sum to 0); the closed form",
         largest_sum_of_deviations=np.abs((x - x.mean(axis=0)).sum(axis=0)).max(),
         largest_dx_summed_over_batch=np.abs(dx.sum(axis=0)).max(),
         smallest_single_dx=np.abs(dx).min(),
         closed_form_vs_step_by_step=np.abs(closed - dx).max(),
         closed_form_vs_fused=np.abs(closed - fused.data).max())
    np.testing.assert_allclose(fused.data, closed, rtol=1e-10, atol=1e-12)


QUESTIONS = {
    1: q1_axis, 2: q2_three_normalizations, 3: q3_formula, 4: q4_images, 5: q5_parameter_count,
    6: q6_placement, 7: q7_whitening, 8: q8_identity, 9: q9_two_variances, 10: q10_backward,
    11: q11_inference, 12: q12_convolutions, 13: q13_bias_cancellation, 14: q14_closed_form,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="*", type=int, help="question numbers, 1 to 14 (default: all)")
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
