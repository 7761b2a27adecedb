"""Neural-network primitives kept for numerical stability: softmax, log_softmax."""

from __future__ import annotations

METHODS = []
__all__ = []
