"""Every differentiable primitive, forward and backward side by side, one file per family.

Each family module lists its public functions in ``__all__`` (exported as ``chainrule.<name>``)
and the ones that are also Tensor methods in ``METHODS`` (a name, or ``(method_name, function)``).
"""

from __future__ import annotations

from ..tensor import Tensor
from . import (
    activation,
    conv,
    conversion,
    creation,
    elementwise,
    index,
    layers,
    linalg,
    nn,
    normalization,
    numeric,
    recurrent,
    reduce,
    search,
    shape,
    tensor_methods,
)
from ._core import canonical_dim, canonical_dims, promote_types, result_type
from .activation import *
from .conv import *
from .conversion import *
from .creation import *
from .elementwise import *
from .index import *
from .layers import *
from .linalg import *
from .nn import *
from .normalization import *
from .numeric import *
from .printing import set_printoptions
from .recurrent import *
from .reduce import *
from .search import *
from .shape import *
from .tensor_methods import *

# the families whose __all__ names are also torch.<name> (losses and attention live in
# nn.functional only, as in PyTorch)
FAMILIES = [
    activation, conversion, conv, creation, elementwise, index, layers, linalg, nn,
    normalization, numeric, recurrent, reduce, search, shape, tensor_methods,
]  # fmt: skip
__all__ = sorted({name for family in FAMILIES for name in family.__all__}) + ["set_printoptions"]


def install_methods(cls) -> None:
    """Bind each family's METHODS onto Tensor."""
    for family in FAMILIES:
        for entry in family.METHODS:
            name, fn = (entry, getattr(family, entry)) if isinstance(entry, str) else entry
            setattr(cls, name, fn)


def __getattr__(name):
    # tensor.py calls ops.<name> for operators and for methods bound elsewhere
    if name.startswith("__"):
        raise AttributeError(name)
    for family in FAMILIES:
        if hasattr(family, name):
            value = globals()[name] = getattr(family, name)  # found once, then a plain lookup
            return value
    raise AttributeError(f"chainrule.ops has no op '{name}'")


install_methods(Tensor)
