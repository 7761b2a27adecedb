"""``chainrule.nn.functional``: the stateless forms of the layers, losses and activations.

Everything here is a differentiable op from ``chainrule.ops``; the modules in ``chainrule.nn``
store parameters and call these.
"""

from ..ops.activation import *  # noqa: F403
from ..ops.nn import log_softmax, softmax, softmin
