"""``chainrule.nn``: modules, parameters, layers, losses, initialisation and utilities."""

from . import functional, init, parallel, utils
from .modules import *  # noqa: F403
from .parameter import Buffer, Parameter
