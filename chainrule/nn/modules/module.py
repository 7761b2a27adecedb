"""Module: the base class of every layer, with PyTorch's API for parameters, buffers, submodules,
modes, devices, state dicts and hooks."""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator

from ... import backend
from ...autograd import RemovableHandle, no_grad
from ...autograd.engine import Function, is_grad_enabled
from ...tensor import Tensor
from ..parameter import Buffer, Parameter


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _shape(t: Tensor) -> str:
    return f"chainrule.Size({list(t.shape)})"


class Module:
    """Base class for all neural-network layers; subclass it and define ``forward``.

    Assigning a ``Parameter``, a ``Module`` or a ``Buffer`` as an attribute registers it, so that
    ``parameters()``, ``state_dict()``, ``to()`` and ``zero_grad()`` find it.

    Example:
        >>> import chainrule as torch
        >>> import chainrule.nn as nn
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.w = nn.Parameter(torch.ones(3))
        ...     def forward(self, x):
        ...         return (self.w * x).sum()
        >>> net = Net()
        >>> net(torch.tensor([1.0, 2.0, 3.0]))
        tensor(6., grad_fn=<SumBackward>)
        >>> [name for name, _ in net.named_parameters()]
        ['w']
    """

    _version: int = 1
    training: bool
    call_super_init: bool = False
    dump_patches: bool = False

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments {args} {kwargs}: "
                "Module.__init__ takes none (pass layer arguments to your own __init__)"
            )
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_modules", {})
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_forward_hooks_with_kwargs", set())
        setattr_(self, "_forward_pre_hooks_with_kwargs", set())
        setattr_(self, "_forward_hooks_always_called", set())
        setattr_(self, "_backward_hooks", OrderedDict())
        setattr_(self, "_backward_pre_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function: '
            "define forward(self, ...) in your subclass"
        )

    # -------------------------------------------------------------------- registration
    def _check_name(self, name, kind: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {kind} before Module.__init__() call: call super().__init__() "
                f"first in {type(self).__name__}.__init__"
            )
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared-but-absent one such as a disabled bias)."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(chainrule.nn.Parameter or None required)"
            )
        if param is not None and param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                "created explicitly: wrap the value with nn.Parameter(value.detach())"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that is saved with the model (unless not persistent) and moved
        by ``to()``, but not learned."""
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(chainrule Tensor or None required)"
            )
        if isinstance(tensor, Buffer):
            persistent = tensor.persistent
            tensor = Tensor._make(tensor._data)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module, reachable as an attribute."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def _get_by_path(self, target: str, kind: str):
        *path, last = target.split(".") if target else [""]
        mod = self
        for i, item in enumerate(path):
            if item not in mod._modules or mod._modules[item] is None:
                where = ".".join(path[:i]) or type(self).__name__
                raise AttributeError(f"{where} has no submodule `{item}`")
            mod = mod._modules[item]
        return mod, last

    def get_submodule(self, target: str) -> Module:
        if target == "":
            return self
        mod, last = self._get_by_path(target, "module")
        if last not in mod._modules or mod._modules[last] is None:
            raise AttributeError(f"{type(mod).__name__} has no attribute `{last}`")
        return mod._modules[last]

    def get_parameter(self, target: str) -> Parameter:
        mod, last = self._get_by_path(target, "parameter")
        if last not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{last}`")
        return mod._parameters[last]

    def get_buffer(self, target: str) -> Tensor:
        mod, last = self._get_by_path(target, "buffer")
        if last not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer `{last}`")
        return mod._buffers[last]

    # -------------------------------------------------------------------- attributes
    def __getattr__(self, name: str):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError(
                    "cannot assign parameters before Module.__init__() call: call "
                    f"super().__init__() first in {type(self).__name__}.__init__"
                )
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(chainrule.nn.Parameter or None expected): wrap it with nn.Parameter(...), "
                    f"or write into it with `with torch.no_grad(): self.{name}.copy_(value)`"
                )
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if d.get("_modules") is None:
                raise AttributeError(
                    "cannot assign module before Module.__init__() call: call "
                    f"super().__init__() first in {type(self).__name__}.__init__"
                )
            self._forget(name, keep="_modules")
            d["_modules"][name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(chainrule.nn.Module or None expected)"
                )
            d["_modules"][name] = value
        elif isinstance(value, Buffer):
            self._forget(name, keep="_buffers")
            self.register_buffer(name, value)
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(chainrule Tensor or None expected)"
                )
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        self.__dict__.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                self.__dict__[store].pop(name, None)
        if keep != "_buffers":
            self._non_persistent_buffers_set.discard(name)

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, ()):
                del self.__dict__[store][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(object.__dir__(self))
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    # -------------------------------------------------------------------- traversal
    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + "." + k if module_prefix else k), v

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs, names dotted as in ``state_dict()``; a parameter shared by
        two modules is listed once."""
        return self._named_members(
            lambda m: m._parameters.items(), prefix, recurse, remove_duplicate
        )

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, Module]]:
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate=True):
        """(name, module) for this module and every descendant, depth first."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    # -------------------------------------------------------------------- modes and grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics) recursively."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None by default, as PyTorch 2 does)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    p.grad = g.detach()
                p.grad._data[...] = 0

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call fn on every submodule (children first) and then on self; e.g. custom init."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------------------- devices and dtypes
    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Module:
        """Replace every parameter's and buffer's data by fn(tensor), keeping the Parameter
        objects (so optimizers built before ``to()`` still hold them)."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                new = fn(p)
                p._data = new._data
                if p._grad is not None:
                    p._grad = Tensor._make(fn(p._grad)._data)
            for name, b in self._buffers.items():
                if b is not None:
                    self._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move and/or cast parameters and buffers: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)`` or ``to(tensor)``. Only floating-point values change dtype."""
        from ...ops.conversion import _parse_to

        device, dtype, _ = _parse_to(args, dict(kwargs))
        dtype = None if dtype is None else backend.as_dtype(dtype)
        if dtype is not None and dtype.kind not in "fc" and dtype != backend.bfloat16:
            raise TypeError(
                f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                f"dtype={dtype}"
            )

        def convert(t: Tensor) -> Tensor:
            floating = t.is_floating_point()
            return t.to(device=device, dtype=dtype if floating else None)

        return self._apply(convert)

    def _cast(self, dtype) -> Module:
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def float(self) -> Module:
        return self._cast(backend.float32)

    def double(self) -> Module:
        return self._cast(backend.float64)

    def half(self) -> Module:
        return self._cast(backend.float16)

    def bfloat16(self) -> Module:
        return self._cast(backend.bfloat16)

    def type(self, dst_type) -> Module:
        return self._apply(lambda t: t.to(dst_type))

    def cpu(self) -> Module:
        return self._apply(lambda t: t.to("cpu"))

    def cuda(self, device=None) -> Module:
        target = "cuda" if device is None else backend.device("cuda", device)
        return self._apply(lambda t: t.to(target))

    def share_memory(self) -> Module:
        return self

    # -------------------------------------------------------------------- state dict
    def _save_to_state_dict(self, destination, prefix: str, keep_vars: bool) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """Every parameter and persistent buffer, by dotted name, in registration order (the
        keys PyTorch uses). The tensors share memory with the module but carry no graph."""
        if args:  # PyTorch's deprecated positional form: state_dict(destination, prefix, ...)
            destination, *rest = args
            if rest:
                prefix = rest[0]
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)  # fmt: skip
        return destination

    def get_extra_state(self):
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called: "
            "override get_extra_state() and set_extra_state() together"
        )

    def set_extra_state(self, state) -> None:
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called: "
            "override get_extra_state() and set_extra_state() together"
        )

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs,
    ) -> None:  # fmt: skip
        """Copy this module's own entries from state_dict (not its children's); subclasses
        override it to accept older key layouts."""
        persistent = {k: v for k, v in self._buffers.items()
                      if k not in self._non_persistent_buffers_set}  # fmt: skip
        local = itertools.chain(self._parameters.items(), persistent.items())
        for name, param in local:
            key = prefix + name
            if param is None:
                continue
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                from ...ops.creation import as_tensor

                try:
                    value = as_tensor(value)
                except (TypeError, ValueError):
                    error_msgs.append(
                        f'While copying the parameter named "{key}", expected a tensor (or an '
                        f"array) from checkpoint but received {type(value).__name__}"
                    )
                    continue
            if tuple(value.shape) != tuple(param.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {_shape(value)} from "
                    f"checkpoint, the shape in current model is {_shape(param)}."
                )
                continue
            try:
                with no_grad():
                    param.copy_(value)
            except Exception as e:
                error_msgs.append(
                    f'While copying the parameter named "{key}", whose dimensions in the model '
                    f"are {_shape(param)} and whose dimensions in the checkpoint are "
                    f"{_shape(value)}, an exception occurred: {e}"
                )
        extra_key = prefix + "_extra_state"
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if not key.startswith(prefix) or key == extra_key:
                    continue
                name = key[len(prefix) :].split(".", 1)[0]
                if (
                    name not in self._modules
                    and name not in self._parameters
                    and (name not in self._buffers or name in self._non_persistent_buffers_set)
                ):
                    unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy parameters and buffers from state_dict into this module (and its children).

        Args:
            state_dict: a mapping from dotted names to tensors, as ``state_dict()`` returns.
            strict: whether every key must match exactly (missing or unexpected keys are
                errors). A shape mismatch is an error either way.
            assign: take the given tensors as the parameters instead of copying into them.

        Returns:
            ``(missing_keys, unexpected_keys)`` as a named tuple.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"Expected state_dict to be dict-like, got {type(state_dict).__name__}: pass "
                "the dict that model.state_dict() or chainrule.load() returned"
            )
        missing, unexpected, errors = [], [], []

        def load(module: Module, prefix: str) -> None:
            if assign:
                module._assign_from_state_dict(state_dict, prefix, strict, missing, errors)
            else:
                module._load_from_state_dict(
                    state_dict, prefix, {}, True, missing, unexpected, errors
                )
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        load(self, "")
        if assign:
            known = set(self.state_dict().keys())
            unexpected = [k for k in state_dict if k not in known]
        if strict:
            if unexpected:
                listed = ", ".join(f'"{k}"' for k in unexpected)
                errors.insert(0, f"Unexpected key(s) in state_dict: {listed}. ")
            if missing:
                listed = ", ".join(f'"{k}"' for k in missing)
                errors.insert(0, f"Missing key(s) in state_dict: {listed}. ")
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        return _IncompatibleKeys(missing, unexpected)

    def _assign_from_state_dict(self, state_dict, prefix, strict, missing, errors) -> None:
        for name, param in list(self._parameters.items()):
            if param is None:
                continue
            key = prefix + name
            if key not in state_dict:
                missing.append(key)
                continue
            value = state_dict[key]
            if tuple(value.shape) != tuple(param.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {_shape(value)} from "
                    f"checkpoint, the shape in current model is {_shape(param)}."
                )
                continue
            self._parameters[name] = Parameter(value.detach(), param.requires_grad)
        for name, b in list(self._buffers.items()):
            if b is None or name in self._non_persistent_buffers_set:
                continue
            key = prefix + name
            if key not in state_dict:
                missing.append(key)
            else:
                self._buffers[name] = state_dict[key].detach()

    # -------------------------------------------------------------------- hooks
    @staticmethod
    def _add_hook(store: OrderedDict, hook, prepend: bool):
        handle = RemovableHandle(store, hook)
        if prepend:
            store.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs=False):
        """hook(module, args) -> None or new args; with_kwargs: hook(module, args, kwargs) ->
        None or (args, kwargs). Runs before forward."""
        handle = self._add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(
        self, hook, *, prepend: bool = False, with_kwargs: bool = False, always_call=False
    ):
        """hook(module, args, output) -> None or a new output (with_kwargs: hook(module, args,
        kwargs, output)). always_call runs it even when forward raises."""
        handle = self._add_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        return handle

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """hook(module, grad_input, grad_output) -> None or a new grad_input, called when the
        gradients with respect to the module's inputs have been computed."""
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """hook(module, grad_output) -> None or a new grad_output, called when the gradients
        with respect to the module's outputs arrive, before the module's own backward."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_backward_hook(self, hook):
        raise RuntimeError(
            "register_backward_hook is deprecated in PyTorch (its grad_input was the last op's, "
            "not the module's): use register_full_backward_hook, which chainrule implements"
        )

    # -------------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):  # fmt: skip
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {result!r}"
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        bw = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            bw = _BackwardHookState(self)
            args = bw.wrap_inputs(args)
        try:
            output = self.forward(*args, **kwargs)
        except Exception:
            for hid, hook in self._forward_hooks.items():
                if hid in self._forward_hooks_always_called:
                    try:
                        hook(self, args, None)
                    except Exception:
                        pass
            raise
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        if bw is not None:
            output = bw.wrap_outputs(output)
        return output

    # -------------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (its arguments)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, module in self._modules.items():
            text = _addindent(repr(module), 2)
            lines.append(f"({name}): {text}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __setstate__(self, state):
        self.__dict__.update(state)


# ------------------------------------------------------------------------ full backward hooks
class _BackwardHookState:
    """Identity nodes around a module call: one on its outputs catches grad_output (and runs
    the backward pre-hooks); one on its inputs catches grad_input and runs the full hooks."""

    def __init__(self, module: Module):
        self.module = module
        self.grad_output = None
        self.n_inputs = 0
        self.inputs_wrapped = False  # whether grad_input arrives through an identity node

    def _wrap(self, items, where: str) -> list:
        """items with each Tensor replaced by its output of one shared identity node."""
        positions = [i for i, a in enumerate(items) if isinstance(a, Tensor)]
        wrapped = _HookIdentity.apply(self, where, *(items[i] for i in positions))
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        items = list(items)
        for i, w in zip(positions, wrapped):
            items[i] = w
        return items

    def wrap_inputs(self, args):
        tensors = [a for a in args if isinstance(a, Tensor)]
        self.n_inputs = len(tensors)
        if not any(a.requires_grad for a in tensors):
            return args
        self.inputs_wrapped = True
        return tuple(self._wrap(args, "inputs"))

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        outs = (output,) if single else output
        if not isinstance(outs, tuple) or not any(
            isinstance(o, Tensor) and o.requires_grad for o in outs
        ):
            return output
        outs = self._wrap(outs, "outputs")
        return outs[0] if single else tuple(outs)

    def on_grad_output(self, grads):
        m = self.module
        for hook in list(m._backward_pre_hooks.values()):
            result = hook(m, grads)
            if result is not None:
                grads = tuple(result) if isinstance(result, tuple | list) else (result,)
        self.grad_output = grads
        if not self.inputs_wrapped:  # no input needs a gradient: grad_input is all None
            self.on_grad_input((None,) * self.n_inputs)
        return grads

    def on_grad_input(self, grads):
        m = self.module
        for hook in list(m._backward_hooks.values()):
            result = hook(m, grads, self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, tuple | list) else (result,)
                if len(result) != len(grads):
                    raise RuntimeError(
                        f"Backward hook returned an invalid number of grad_input, got "
                        f"{len(result)}, but expected {len(grads)}"
                    )
                grads = result
        return grads


class _HookIdentity(Function):
    @staticmethod
    def forward(ctx, state, where, *tensors):
        ctx.state = state
        ctx.where = where
        return tensors if len(tensors) != 1 else tensors[0]

    @staticmethod
    def backward(ctx, *grads):
        if ctx.where == "outputs":
            grads = ctx.state.on_grad_output(grads)
        else:
            grads = ctx.state.on_grad_input(grads)
        return (None, None, *grads)
