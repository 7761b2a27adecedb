"""``chainrule.onnx``: export is not supported; the error says what to do instead."""

from __future__ import annotations

__all__ = ["export", "is_in_onnx_export"]


def export(model, args=(), f=None, *pargs, **kwargs):
    """Raises: chainrule has no tracer that writes ONNX graphs."""
    raise NotImplementedError(
        "chainrule.onnx.export is not supported: chainrule does not write ONNX graphs. Save the "
        "weights with chainrule.save(model.state_dict(), path) (a safetensors file that "
        "safetensors.torch.load_file reads), load them into the same model in PyTorch, and "
        "export from there with torch.onnx.export."
    )


def is_in_onnx_export() -> bool:
    return False
