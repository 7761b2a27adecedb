"""``chainrule.nn``: modules, parameters, layers, losses, initialisation and utilities."""

from . import functional, init, utils
from .modules import *  # noqa: F403
from .parameter import Buffer, Parameter
