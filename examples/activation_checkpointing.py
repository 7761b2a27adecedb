"""Activation checkpointing: trade compute for memory, measured.

To run backward, every op keeps what its backward needs (its inputs or its output): for a deep
network that is one or two activations per layer, held from the forward pass until backward
reaches the layer. ``checkpoint_sequential(model, segments, x)`` keeps only each segment's
input; when backward reaches a segment, it runs that segment's forward again, with a graph,
and backpropagates through it. Memory held for backward drops from ~depth activations to
~segments + depth/segments of them; the price is one extra forward pass.

The memory is measured twice. On the graph: walk from ``loss.grad_fn`` through each node's
inputs (``node.next``) and add up the bytes of the arrays each node saved (``node.saved``),
counting each array once. And as the peak of all memory allocated during forward and backward,
with ``tracemalloc`` (NumPy reports its allocations to it): that peak also holds the weights'
gradients, the temporaries of backward and, with checkpointing, the activations of the segment
being recomputed, so it falls by less than the saved activations do (and with only two layers
per segment, 8 layers in 4 segments, it even rises: checkpointing pays on long segments).

Run it with:  python examples/activation_checkpointing.py
"""

import time
import tracemalloc

import numpy as np

import chainrule as torch
import chainrule.nn as nn
from chainrule.utils.checkpoint import checkpoint_sequential


def saved_bytes(loss, parameters=()) -> int:
    """Bytes of the arrays that the graph behind `loss` keeps for backward, each counted once;
    the arrays of `parameters` do not count: the model holds them anyway."""
    seen_nodes, total = set(), 0
    seen_arrays = {id(np.asarray(p)) for p in parameters}
    stack = [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen_nodes or isinstance(node, torch.Tensor):
            continue  # a leaf tensor (a parameter) is not a node: it is not saved for backward
        seen_nodes.add(id(node))
        saved = node.saved if isinstance(node.saved, tuple) else ()
        for value in saved:
            array = np.asarray(value) if isinstance(value, torch.Tensor) else value
            if isinstance(array, np.ndarray | np.generic) and id(array) not in seen_arrays:
                seen_arrays.add(id(array))
                total += array.nbytes
        stack.extend(edge[0] for edge in node.next if edge is not None)
    return total


def make_model(depth: int, width: int) -> nn.Sequential:
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh()]
    return nn.Sequential(*layers)


def run(model, x, segments: int | None) -> tuple[int, float, list[np.ndarray]]:
    model.zero_grad()
    start = time.perf_counter()
    if segments is None:
        out = model(x)
    else:
        out = checkpoint_sequential(model, segments, x, use_reentrant=False)
    loss = out.pow(2).mean()
    held = saved_bytes(loss, model.parameters())
    loss.backward()
    seconds = time.perf_counter() - start
    return held, seconds, [p.grad.numpy().copy() for p in model.parameters()]


def peak_bytes(model, x, segments: int | None) -> int:
    """The most memory allocated at any moment of one forward and backward pass."""
    model.zero_grad()
    x.grad = None
    tracemalloc.start()
    try:
        run(model, x, segments)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(
    depth: int = 16,
    width: int = 128,
    batch: int = 2048,
    segments: int = 4,
    repeats: int = 3,
    seed: int = 0,
) -> dict:
    torch.manual_seed(seed)
    model = make_model(depth, width)
    x = torch.randn(batch, width, requires_grad=True)
    activation = batch * width * 4  # one float32 activation, in bytes
    results = {}
    for name, seg in (("plain", None), ("checkpointed", segments)):
        run(model, x, seg)  # warm up: the first pass pays for allocating fresh memory
        runs = [run(model, x, seg) for _ in range(repeats)]
        held = runs[0][0]
        seconds = min(r[1] for r in runs)  # the best of a few: less noise from the machine
        peak = peak_bytes(model, x, seg)
        results[name] = {"saved_bytes": held, "seconds": seconds, "grads": runs[0][2]}
        results[name]["peak_bytes"] = peak
        print(
            f"{name:<13} saved for backward {held / 2**20:5.1f} MiB "
            f"({held / activation:4.1f} activations of {activation / 2**20:g} MiB), "
            f"peak {peak / 2**20:5.1f} MiB, forward + backward {seconds * 1000:5.0f} ms"
        )
    same = all(
        np.allclose(a, b, rtol=1e-5, atol=1e-7)
        for a, b in zip(results["plain"]["grads"], results["checkpointed"]["grads"])
    )
    ratio = results["checkpointed"]["saved_bytes"] / results["plain"]["saved_bytes"]
    peak_ratio = results["checkpointed"]["peak_bytes"] / results["plain"]["peak_bytes"]
    slower = results["checkpointed"]["seconds"] / results["plain"]["seconds"]
    print(
        f"{depth} layers in {segments} segments: {ratio:.0%} of the saved activations, "
        f"{peak_ratio:.0%} of the peak, {slower:.2f}x the time; gradients equal: {same}"
    )
    return {
        "plain_bytes": results["plain"]["saved_bytes"],
        "checkpointed_bytes": results["checkpointed"]["saved_bytes"],
        "memory_ratio": ratio,
        "plain_peak": results["plain"]["peak_bytes"],
        "checkpointed_peak": results["checkpointed"]["peak_bytes"],
        "peak_ratio": peak_ratio,
        "time_ratio": slower,
        "grads_equal": same,
    }


if __name__ == "__main__":
    main()
