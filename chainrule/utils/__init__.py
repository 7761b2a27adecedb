"""``chainrule.utils``: data loading, activation checkpointing and training helpers."""

from . import checkpoint, data
from .early_stopping import EarlyStopping
