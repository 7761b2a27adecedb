"""DistributedDataParallel: the same model on every rank, each on its own slice of the batch,
with gradients averaged over the ranks as backward produces them.

How it works, in the order things happen:

1. Construction checks that every rank has the same parameter names, shapes and dtypes (and
   says which differ), then copies rank 0's parameters and buffers to every rank.
2. Gradients are grouped into buckets of about ``bucket_cap_mb`` (the first one at most 1 MiB,
   so that communication starts early), in reverse parameter order: the order in which
   backward produces them. Each bucket is one flat array.
3. A post-accumulate-grad hook on every parameter copies its gradient into its bucket; when a
   bucket is full, its all-reduce starts (asynchronously), buckets always in the same order on
   every rank. When the last bucket has started, the hook waits for all of them, divides by the
   world size, and points each ``.grad`` at its slice of the bucket (no copy back).
4. ``no_sync()`` skips all this for gradient accumulation; ``find_unused_parameters`` finds the
   parameters the forward output does not reach and counts them as ready (with zeros).

A parameter that gets no gradient without ``find_unused_parameters`` leaves its bucket waiting;
the next forward raises, naming that parameter.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable

import numpy as np

from ... import distributed as dist
from ...autograd.engine import is_grad_enabled
from ...backend import array_module
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel", "GradBucket"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES
# PyTorch's other keyword arguments: accepted, without effect here (mixed_precision and
# device_mesh are refused unless None)
_ACCEPTED = {"delay_all_reduce_named_params", "param_to_hook_all_reduce", "mixed_precision",
             "device_mesh", "skip_all_reduce_unused_params"}  # fmt: skip


class GradBucket:
    """One bucket of flattened gradients, as a communication hook sees it (PyTorch's
    ``dist.GradBucket``): ``buffer()`` is the flat gradient tensor to reduce in place."""

    def __init__(self, index: int, params: list, names: list[str], is_last: bool):
        self._index = index
        self._params = params
        self._names = names
        self._is_last = is_last
        sizes = [p.numel() for p in params]
        self.offsets = np.cumsum([0] + sizes[:-1]).tolist()
        self.sizes = sizes
        xp = array_module(params[0]._data)
        self.flat = xp.zeros(sum(sizes), params[0]._data.dtype)
        self._buffer = Tensor._make(self.flat)
        self.pending = len(params)
        self.work = None  # the all-reduce (or the hook's Future) in flight

    def index(self) -> int:
        return self._index

    def buffer(self) -> Tensor:
        return self._buffer

    def gradients(self) -> list[Tensor]:
        return [Tensor._make(self.view(j)) for j in range(len(self._params))]

    def parameters(self) -> list:
        return list(self._params)

    def is_last(self) -> bool:
        return self._is_last

    def set_buffer(self, tensor: Tensor) -> None:
        self.flat[...] = tensor._data.reshape(-1)

    def view(self, j: int):
        off, n = self.offsets[j], self.sizes[j]
        return self.flat[off : off + n].reshape(self._params[j]._data.shape)

    def __repr__(self):
        return f"GradBucket(index={self._index}, params={self._names}, numel={self.flat.size})"


class DistributedDataParallel(Module):
    """Data-parallel training: wrap the model, run forward and backward as usual on each rank's
    share of the batch; after ``loss.backward()`` every rank holds the gradient averaged over
    all ranks, so the same optimizer step keeps the replicas identical.

    Args:
        module: the model (the same architecture on every rank).
        device_ids, output_device, dim: accepted for PyTorch compatibility (one device per
            process: put the model on it first).
        broadcast_buffers: copy rank 0's buffers (batch-norm statistics) to every rank at the
            start of each forward.
        process_group: the group to average over (default: the world).
        bucket_cap_mb: bucket size in MiB (default 25); the first bucket is at most 1 MiB.
        find_unused_parameters: count parameters that the forward output does not reach as
            ready (with a zero gradient), instead of waiting for them.
        gradient_as_bucket_view, static_graph, check_reduction: accepted; gradients are always
            views into the buckets (no copy back), and the graph may change every step.
        init_sync: copy rank 0's parameters and buffers to the others at construction.

    Example (run with ``chainrule run -n 2 train.py``):
        >>> import chainrule as torch, chainrule.distributed as dist
        >>> from chainrule.nn.parallel import DistributedDataParallel as DDP
        >>> dist.init_process_group("mpi")
        >>> model = DDP(torch.nn.Linear(3, 1))
        >>> model(torch.ones(4, 3)).sum().backward()
        >>> model.module.weight.grad
        tensor([[4., 4., 4.]])
        >>> dist.destroy_process_group()
    """

    def __init__(
        self,
        module: Module,
        device_ids=None,
        output_device=None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group=None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
        init_sync: bool = True,
        **kwargs,
    ) -> None:
        unknown = set(kwargs) - _ACCEPTED
        if unknown:
            raise TypeError(
                f"DistributedDataParallel got unexpected keyword arguments {sorted(unknown)}"
            )
        if kwargs.get("mixed_precision") is not None or kwargs.get("device_mesh") is not None:
            raise NotImplementedError(
                "DistributedDataParallel(mixed_precision=..., device_mesh=...) is not supported: "
                "use a communication hook (fp16_compress_hook) and the default process group"
            )
        super().__init__()
        self.module = module
        self.process_group = dist.process_group._default_group(process_group)
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any parameter "
                "that requires a gradient."
            )
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._verify_same_model()
        if init_sync:
            self._sync_module_states()
        self._buckets, self._where = self._make_buckets()
        self._comm_hook: Callable | None = None
        self._comm_state = None
        self._hooks = [p.register_post_accumulate_grad_hook(self._grad_hook(i))
                       for i, p in enumerate(self._params)]  # fmt: skip
        self._expect_hooks = False
        self._reset()

    # ------------------------------------------------------------------ construction
    def _signature(self) -> list:
        state = [(f"parameter '{n}'", tuple(p.shape), str(p.dtype)) for n, p in
                 zip(self._names, self._params)]  # fmt: skip
        state += [(f"buffer '{n}'", tuple(b.shape), str(b.dtype))
                  for n, b in self.module.named_buffers()]  # fmt: skip
        return state

    def _verify_same_model(self) -> None:
        """Every rank must hold the same parameters and buffers: compare with rank 0's."""
        everyone: list = []
        dist.all_gather_object(everyone, self._signature(), group=self.process_group)
        ref = {what: (shape, dtype) for what, shape, dtype in everyone[0]}
        problems = []
        for r, sig in enumerate(everyone[1:], start=1):
            mine = {what: (shape, dtype) for what, shape, dtype in sig}
            for what, (shape, dtype) in mine.items():
                if what not in ref:
                    problems.append(f"rank {r} has {what} {shape}, which rank 0 does not have")
                elif ref[what] != (shape, dtype):
                    problems.append(
                        f"{what} is {shape} {dtype} on rank {r} but {ref[what][0]} "
                        f"{ref[what][1]} on rank 0"
                    )
            for what, (shape, _) in ref.items():
                if what not in mine:
                    problems.append(f"rank {r} lacks {what} {shape}, which rank 0 has")
            if not problems and [s[0] for s in sig] != [s[0] for s in everyone[0]]:
                problems.append(f"rank {r} registers its parameters in a different order")
        if problems:
            raise RuntimeError(
                "DDP expects same model across all ranks, but the models differ:\n  "
                + "\n  ".join(problems)
                + "\nBuild the same model on every rank (the same code and arguments); rank 0's "
                "values are then copied to the others."
            )

    def _sync_module_states(self) -> None:
        """Copy rank 0's parameters and buffers to every rank, one broadcast per dtype."""
        tensors = list(self._params) + [b for _, b in self.module.named_buffers()]
        if self.process_group.size() > 1:
            _broadcast_coalesced(tensors, self.process_group)

    def _make_buckets(self):
        """Buckets in reverse parameter order, one dtype each; the first capped at 1 MiB."""
        groups: list[list[int]] = []
        filling: dict = {}  # (dtype, array type) -> [parameter indices, bytes]
        caps: dict = {}
        for i in reversed(range(len(self._params))):
            data = self._params[i]._data
            key = (data.dtype, type(data))
            current = filling.setdefault(key, [[], 0])
            current[0].append(i)
            current[1] += data.nbytes
            if current[1] >= caps.get(key, min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap)):
                groups.append(current[0])
                del filling[key]
                caps[key] = self.bucket_bytes_cap
        groups += [indices for indices, _ in filling.values()]
        buckets, where = [], {}
        for b, idx in enumerate(groups):
            bucket = GradBucket(b, [self._params[i] for i in idx], [self._names[i] for i in idx],
                                b == len(groups) - 1)  # fmt: skip
            buckets.append(bucket)
            for j, i in enumerate(idx):
                where[i] = (b, j)
        return buckets, where

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        self._check_previous_reduction()
        if self.broadcast_buffers and self.process_group.size() > 1:
            buffers = [b for _, b in self.module.named_buffers()]
            if buffers:
                _broadcast_coalesced(buffers, self.process_group)
        output = self.module(*inputs, **kwargs)
        self._reset()
        self._expect_hooks = is_grad_enabled() and self.require_backward_grad_sync
        if self._expect_hooks and self.find_unused_parameters:
            reached = _reachable_leaves(output)
            self._unused = [i for i, p in enumerate(self._params) if id(p) not in reached]
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context, backward accumulates local gradients without communicating;
        the first backward after it averages the accumulated sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ------------------------------------------------------------------ gradient hooks
    def _reset(self) -> None:
        self._ready = [False] * len(self._params)
        self._started = False
        self._next_bucket = 0
        self._unused: list[int] = []
        for bucket in self._buckets:
            bucket.pending = len(bucket._params)
            bucket.work = None

    def _grad_hook(self, i: int):
        ddp_ref = weakref.ref(self)  # the parameters must not keep a discarded wrapper alive

        def hook(p):
            ddp = ddp_ref()
            if ddp is None or not ddp._expect_hooks:
                return
            if not ddp._started:
                ddp._started = True
                for j in ddp._unused:
                    ddp._mark_ready(j, zero=True)
            ddp._mark_ready(i, zero=False)

        return hook

    def _mark_ready(self, i: int, zero: bool) -> None:
        if self._ready[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once: parameter '{self._names[i]}' got "
                "a gradient twice in one iteration. Either it was used outside forward (with "
                "find_unused_parameters=True it was counted as unused), or backward ran twice "
                "through the same forward. Run forward once per backward, and use every "
                "parameter inside the DDP-wrapped module's forward."
            )
        self._ready[i] = True
        b, j = self._where[i]
        bucket = self._buckets[b]
        view = bucket.view(j)
        if zero:
            view[...] = 0
        else:
            g = self._params[i]._grad._data
            if g is not view:
                view[...] = g
        bucket.pending -= 1
        if bucket.pending == 0:
            while (self._next_bucket < len(self._buckets)
                   and self._buckets[self._next_bucket].pending == 0):  # fmt: skip
                self._launch(self._buckets[self._next_bucket])
                self._next_bucket += 1
            if self._next_bucket == len(self._buckets):
                self._finalize()
        else:
            self._progress()

    def _launch(self, bucket: GradBucket) -> None:
        if self._comm_hook is not None:
            bucket.work = self._comm_hook(self._comm_state, bucket)
        else:
            bucket.work = dist.all_reduce(bucket.buffer(), group=self.process_group,
                                          async_op=True)  # fmt: skip

    def _progress(self) -> None:
        """Let MPI move the buckets in flight (it progresses only inside MPI calls)."""
        for bucket in self._buckets[: self._next_bucket]:
            work = bucket.work
            if isinstance(work, dist.Work) and not work.is_completed():
                return

    def _finalize(self) -> None:
        n = self.process_group.size()
        for bucket in self._buckets:
            work = bucket.work
            if isinstance(work, dist.Work):
                work.wait()
                if n > 1:
                    bucket.flat /= n
            else:  # a communication hook's Future: its value is the averaged bucket
                value = work.wait()
                data = value._data if isinstance(value, Tensor) else value
                if data is not bucket.flat:
                    bucket.flat[...] = data.reshape(-1)
        skip = set()
        if self.find_unused_parameters:
            used = np.zeros(len(self._params), np.int32)
            used[[i for i in range(len(used)) if i not in set(self._unused)]] = 1
            used_t = Tensor._make(used)
            dist.all_reduce(used_t, group=self.process_group)
            skip = {i for i in range(len(used)) if used[i] == 0}
        for i, p in enumerate(self._params):
            if i in skip:
                continue  # no rank used it: its .grad stays as it was, as in PyTorch
            b, j = self._where[i]
            view = self._buckets[b].view(j)
            if p._grad is None:
                p._grad = Tensor._make(view)
            else:
                p._grad._data = view
        self._expect_hooks = False
        self._started = False

    def _check_previous_reduction(self) -> None:
        if not self._started:
            return
        missing = [f"'{self._names[i]}'" for i, r in enumerate(self._ready) if not r]
        rank = self.process_group.rank()
        self._reset()
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new "
            "one. This error indicates that your module has parameters that were not used in "
            f"producing loss. On rank {rank}, these parameters got no gradient in the last "
            f"backward: {', '.join(missing)}. Make every parameter take part in the loss, "
            "or pass find_unused_parameters=True to DistributedDataParallel (or set "
            "requires_grad=False on parameters you do not train)."
        )

    # ------------------------------------------------------------------ communication hooks
    def register_comm_hook(self, state, hook: Callable) -> None:
        """Replace each bucket's all-reduce by ``hook(state, bucket) -> Future`` whose value is
        the bucket's averaged flat gradient (see
        ``chainrule.distributed.algorithms.ddp_comm_hooks.default_hooks``)."""
        if self._comm_hook is not None:
            raise RuntimeError(
                "register_comm_hook or register_builtin_comm_hook can only be called once."
            )
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        self._comm_hook = hook
        self._comm_state = state

    def extra_repr(self) -> str:
        return ""


def _broadcast_coalesced(tensors: list, group) -> None:
    """Broadcast the values of tensors of the group's first rank, one flat message per dtype."""
    by_dtype: dict = {}
    for t in tensors:
        by_dtype.setdefault((t._data.dtype, type(t._data)), []).append(t)
    for ts in by_dtype.values():
        xp = array_module(ts[0]._data)
        flat = xp.concatenate([t._data.reshape(-1) for t in ts])
        dist.broadcast(Tensor._make(flat), group=group, group_src=0)
        start = 0
        for t in ts:
            n = t._data.size
            t._data[...] = flat[start : start + n].reshape(t._data.shape)
            t._vc.bump("broadcast")
            start += n


def _reachable_leaves(output) -> set:
    """ids of the leaf tensors that the output's graph reaches."""
    roots = []
    stack = [output]
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            roots.append(x)
        elif isinstance(x, list | tuple):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    reached = set()
    nodes = []
    for t in roots:
        if t.grad_fn is None:
            reached.add(id(t))
        else:
            nodes.append(t.grad_fn)
    seen = {id(n) for n in nodes}
    while nodes:
        node = nodes.pop()
        for e in node.next:
            if e is None:
                continue
            parent = e[0]
            if isinstance(parent, Tensor):
                reached.add(id(parent))
            elif id(parent) not in seen:
                seen.add(id(parent))
                nodes.append(parent)
    return reached
