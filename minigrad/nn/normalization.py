"""BatchNorm1d and BatchNorm2d: the module around ``F.batch_norm``, as PyTorch's."""

import numpy as np

from ..ops.batchnorm import IMPLS
from ..tensor import Tensor
from .functional import batch_norm
from .init import _check_sizes
from .module import Module, Parameter


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; subclasses only check the input's rank.

    A layer of C features holds 4 * C numbers: ``weight`` and ``bias`` (gamma and beta,
    trained) and the buffers ``running_mean`` and ``running_var`` (not trained, updated
    in training and used in eval), plus the counter ``num_batches_tracked``.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, impl="fused"):
        super().__init__()
        _check_sizes(type(self).__name__, num_features=num_features)
        if impl not in IMPLS:
            raise ValueError(f"{type(self).__name__}: impl must be one of {IMPLS}, got {impl!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.impl = impl
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=np.float32))
            self.bias = Parameter(np.zeros(num_features, dtype=np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def _check_input_dim(self, x):
        raise NotImplementedError

    def forward(self, x):
        self._check_input_dim(x)
        if x.ndim >= 2 and x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): input of shape {x.shape} has "
                f"{x.shape[1]} channels on axis 1"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        counting = self.training and self.track_running_stats
        if counting and self.momentum is None:  # a cumulative average: 1/1, 1/2, 1/3, ...
            factor = 1.0 / (float(self.num_batches_tracked.data) + 1)
        # Eval without running statistics (track_running_stats=False) uses the batch's.
        use_batch_stats = self.training or self.running_mean is None
        keep_stats = not self.training or self.track_running_stats
        out = batch_norm(
            x,
            self.running_mean if keep_stats else None,
            self.running_var if keep_stats else None,
            self.weight, self.bias, use_batch_stats, factor, self.eps, impl=self.impl,
        )
        if counting:  # only once the step has passed batch_norm's checks
            self.num_batches_tracked.data[...] += 1
        return out

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}, "
                f"impl={self.impl!r}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per feature C.

    Parameters
    ----------
    num_features : int
        C, the number of features (channels) on axis 1.
    eps : float
        Added to the variance before the square root.
    momentum : float or None
        Weight of the batch in the running statistics; None for a cumulative average.
    affine : bool
        Learn a per-feature ``weight`` (gamma) and ``bias`` (beta).
    track_running_stats : bool
        Keep ``running_mean`` and ``running_var`` for eval; when False, eval mode
        normalizes with the batch's statistics too.
    impl : {"fused", "composed"}
        See ``F.batch_norm``.

    Examples
    --------
    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> bn = nn.BatchNorm1d(3)
    >>> y = bn(mg.randn(8, 3))
    >>> [name for name, _ in bn.named_parameters()], [name for name, _ in bn.named_buffers()]
    (['weight', 'bias'], ['running_mean', 'running_var', 'num_batches_tracked'])
    >>> int(bn.num_batches_tracked.item())
    1
    """

    def _check_input_dim(self, x):
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {x.ndim}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs: statistics per channel over N, H and W.

    Takes the arguments of ``BatchNorm1d``.

    Examples
    --------
    >>> import minigrad as mg
    >>> from minigrad import nn
    >>> bn = nn.BatchNorm2d(4)
    >>> bn(mg.randn(2, 4, 5, 5)).shape
    (2, 4, 5, 5)
    >>> sum(p.numel() for p in bn.parameters()), bn.running_mean.numel() + bn.running_var.numel()
    (8, 8)
    """

    def _check_input_dim(self, x):
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected 4D input (got {x.ndim}D input)")
