"""SyncBatchNorm: batch normalisation over the global batch of all ranks.

In training, each rank computes its per-channel count, mean and sum of squared deviations;
one all-gather combines them (Chan's parallel formula, exact in any order) into the global
mean and variance; the output is then the BatchNorm primitive's. Backward all-reduces the two
per-channel sums that the input gradient needs (Σ gy and Σ gy x̂), so that the input gradient is
that of batch norm on the concatenated batch. The weight and bias gradients stay local sums:
DDP's average then gives the global batch's gradient. In eval mode, or on one rank, it is
BatchNorm.
"""

from __future__ import annotations

import math

import numpy as np

from ... import distributed as dist
from ...backend import array_module
from ...ops import normalization as F
from ...ops._core import Op
from ...ops.recurrent import _backward_once
from ...tensor import Tensor
from .batchnorm import _BatchNorm
from .module import Module

__all__ = ["SyncBatchNorm"]


class SyncBatchNormOp(Op):
    """y = x̂ w + b with x̂ = (x - μ) rstd from the global batch's statistics;
    gx = rstd w (gy - Σgy / N - x̂ Σ(gy x̂) / N) with both sums over all ranks' batches (N
    elements per channel), gw = Σ gy x̂ and gb = Σ gy over this rank's batch"""

    differentiable_twice = False  # backward communicates; its sums are arrays, not graph nodes

    @staticmethod
    def forward(ctx, x, w, b, mean, var, eps, count, group):
        ctx.count, ctx.group = count, group
        return F.BatchNorm.forward(ctx, x, w, b, mean, var, eps)

    @staticmethod
    def backward(ctx, gy):
        return _backward_once(ctx, SyncBatchNormOp.rule, (gy,), "SyncBatchNorm")

    @staticmethod
    def rule(ctx, saved, gy):
        x, w = saved
        need = ctx.needs_input_grad[:3]
        axes = (0,) + tuple(range(2, x.ndim))
        mean, rstd = ctx.stats
        xp = array_module(x)
        xhat = (x - mean) * rstd
        sums = xp.concatenate([xp.sum(gy, axis=axes), xp.sum(gy * xhat, axis=axes)])
        local = sums.copy()
        dist.all_reduce(Tensor._make(sums), group=ctx.group)
        c = x.shape[1]
        shape = (1, c) + (1,) * (x.ndim - 2)
        s_gy, s_gyx = sums[:c].reshape(shape), sums[c:].reshape(shape)
        gx = None
        if need[0]:
            n = ctx.count
            gx = gy - s_gy * (1.0 / n) - xhat * (s_gyx * (1.0 / n))
            gx *= rstd if w is None else rstd * w.reshape(rstd.shape)
        gw = local[c:] if need[1] else None
        gb = local[:c] if need[2] else None
        return gx, gw, gb, None, None, None, None, None


def _global_stats(x, group):
    """(mean, biased variance, count) per channel over every rank's batch, shaped (1, C, 1…)."""
    xp = array_module(x)
    axes = (0,) + tuple(range(2, x.ndim))
    n = math.prod(x.shape) // x.shape[1]
    mean = xp.mean(x, axis=axes)
    d = x - mean.reshape((1, -1) + (1,) * (x.ndim - 2))
    m2 = xp.sum(d * d, axis=axes)
    mine = xp.concatenate([xp.asarray([n], x.dtype), mean, m2]).astype(np.float64)
    size = dist.get_world_size(group)
    everyone = [Tensor._make(xp.empty_like(mine)) for _ in range(size)]
    dist.all_gather(everyone, Tensor._make(mine), group=group)
    table = xp.stack([t._data for t in everyone])  # (ranks, 1 + 2C): count, means, M2s
    c = x.shape[1]
    counts, means, m2s = table[:, :1], table[:, 1 : 1 + c], table[:, 1 + c :]
    total = float(counts.sum())
    if total <= 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got {int(total)} over all ranks"
        )
    g_mean = (counts * means).sum(0) / total
    g_m2 = (m2s + counts * (means - g_mean) ** 2).sum(0)
    shape = (1, c) + (1,) * (x.ndim - 2)
    dtype = x.dtype
    return (g_mean.astype(dtype).reshape(shape), (g_m2 / total).astype(dtype).reshape(shape),
            total)  # fmt: skip


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose statistics cover the batches of all ranks of ``process_group``
    (the world by default): on N ranks with batch B each it matches BatchNorm on the
    concatenated N·B batch, outputs, gradients and running statistics alike.

    Args:
        num_features, eps, momentum, affine, track_running_stats: as BatchNorm1d.
        process_group: the ranks to synchronise over (default: the world).

    Use ``SyncBatchNorm.convert_sync_batchnorm(model)`` to swap every BatchNorm*d of a model.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group=None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        synced = (self.training and dist.is_initialized()
                  and dist.get_world_size(self.process_group) > 1)  # fmt: skip
        if not synced:
            return super().forward(input)
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"SyncBatchNorm({self.num_features}) got an input with {input.shape[1]} "
                f"channels in dim 1 (input shape {list(input.shape)})"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._vc.bump("add_")
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        mean, var, count = _global_stats(input._data, self.process_group)
        group = dist.process_group._default_group(self.process_group)
        y = SyncBatchNormOp.apply(input, self.weight, self.bias, mean, var, self.eps, count, group)
        if self.track_running_stats and self.running_mean is not None:
            F._update(self.running_mean, mean, factor)
            F._update(self.running_var, var * (count / (count - 1)), factor)
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """Return module with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm that holds
        the same parameters, running statistics and mode (in place where module is not itself a
        batch norm)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)  # fmt: skip
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
