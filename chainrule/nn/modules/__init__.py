"""The layers. Each file holds one family; this file lists them."""

from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .module import Module
