"""Activation functions (relu, gelu, …): primitives where speed or stability asks, compositions otherwise."""

from __future__ import annotations

METHODS = []
__all__ = []
