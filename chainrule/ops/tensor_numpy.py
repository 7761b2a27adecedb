"""A NumPy-like namespace over Tensors, so that backward rules are differentiable.

Backward rules are written against ``xp = array_module(gy)``. Normally ``gy`` is an array and
``xp`` is NumPy or CuPy. Under ``create_graph=True`` the engine passes Tensors, and
``array_module`` returns this module: the same rule then records a graph, and gradients of
gradients come for free. Each op family registers the NumPy names it can stand in for with
``register``; asking for a name nobody registered raises an error that names it.

Rules may also use operators, ``.shape``, ``.ndim``, ``.dtype``, ``.T`` and ``.reshape`` on their
arguments: those mean the same on arrays and on Tensors.
"""

from __future__ import annotations

_registry: dict = {}


def register(**functions) -> None:
    """Register NumPy-named stand-ins: ``register(exp=exp, sum=_np_sum)``."""
    _registry.update(functions)


def __getattr__(name: str):
    try:
        return _registry[name]
    except KeyError:
        raise AttributeError(
            f"backward rule uses xp.{name}, which has no differentiable stand-in: register one in "
            "chainrule.ops (tensor_numpy.register), or mark the op differentiable_twice = False"
        ) from None


def __dir__():
    return sorted(_registry)
