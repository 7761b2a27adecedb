"""``chainrule.nn.functional``: the stateless forms of the layers, losses and activations.

Everything here is a differentiable op from ``chainrule.ops``; the modules in ``chainrule.nn``
store parameters and call these.
"""

# ruff: noqa: F401  (a namespace of re-exports; __all__ is built below)

from ..ops.activation import (
    celu,
    celu_,
    elu,
    elu_,
    gelu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    hardtanh_,
    leaky_relu,
    leaky_relu_,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    relu_,
    rrelu,
    rrelu_,
    selu,
    selu_,
    silu,
    softplus,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
    threshold_,
)  # fmt: skip
from ..ops.attention import multi_head_attention_forward, scaled_dot_product_attention
from ..ops.conv import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    fold,
    max_pool1d,
    max_pool2d,
    max_unpool1d,
    max_unpool2d,
    unfold,
)  # fmt: skip
from ..ops.elementwise import sigmoid, tanh
from ..ops.layers import (
    alpha_dropout,
    bilinear,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    embedding,
    feature_alpha_dropout,
    linear,
)  # fmt: skip
from ..ops.loss import *  # noqa: F403  (ops/loss.py's __all__ is exactly F's loss names)
from ..ops.loss import __all__ as _losses
from ..ops.nn import log_softmax, softmax, softmin
from ..ops.normalization import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
    normalize,
    rms_norm,
)  # fmt: skip
from ..ops.resample import *  # noqa: F403  (interpolate, pixel_shuffle, cosine_similarity…)
from ..ops.shape import pad

__all__ = [n for n in dir() if not n.startswith("_") and n != "annotations"] + list(_losses)
__all__ = sorted(set(__all__))
