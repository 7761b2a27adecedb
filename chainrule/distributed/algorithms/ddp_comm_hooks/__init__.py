"""Communication hooks for ``DistributedDataParallel.register_comm_hook``."""

from . import default_hooks
