"""Every differentiable primitive, forward and backward side by side, one file per family."""

from __future__ import annotations

from ._core import canonical_dim, canonical_dims, promote_types, result_type
from .conversion import *
from .conversion import contiguous, to
from .creation import *
from .elementwise import *
from .elementwise import add_, div_, mul_, sub_
from .index import getitem, setitem_
from .linalg import *
from .printing import set_printoptions
from .reduce import *
from .shape import *
from .shape import expand, reshape, view
from . import conversion, creation, elementwise, index, linalg, reduce, shape

FAMILIES = [conversion, creation, elementwise, index, linalg, reduce, shape]


def install_methods(cls) -> None:
    """Bind each family's METHODS onto Tensor (entries are names or (method, function))."""
    for family in FAMILIES:
        for entry in family.METHODS:
            name, fn = (entry, getattr(family, entry)) if isinstance(entry, str) else entry
            setattr(cls, name, fn)
