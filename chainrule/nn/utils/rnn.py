"""``chainrule.nn.utils.rnn``: padding and packing variable-length sequences.

``pad_sequence`` stacks sequences of different lengths with padding. ``pack_padded_sequence``
and ``pad_packed_sequence`` convert to and from PyTorch's ``PackedSequence`` layout (time-major
rows of the sequences still running at each step). All are gathers, so gradients flow through.
chainrule's RNN layers do not accept a PackedSequence yet: run them on the padded batch and
pick each sequence's last valid step with the lengths.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...ops.creation import full, tensor
from ...ops.shape import cat, stack
from ...tensor import Tensor

__all__ = [
    "PackedSequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pack_sequence",
    "unpack_sequence",
]


class PackedSequence(NamedTuple):
    """Sequences packed time-major: ``data`` holds, for each step t, the rows of the
    ``batch_sizes[t]`` longest sequences (sorted by length, longest first)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> PackedSequence:
        return self._replace(data=self.data.to(*args, **kwargs))


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """Stack tensors of shape (L_i, *) into (max L, B, *) (or (B, max L, *) with batch_first),
    filling with ``padding_value`` on ``padding_side``.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.nn.utils.rnn import pad_sequence
        >>> pad_sequence([torch.ones(2), torch.ones(3)], batch_first=True).tolist()
        [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    """
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )  # noqa: E501
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            pad = full((missing,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype,
                       device=s.device)  # fmt: skip
            s = cat([s, pad]) if padding_side == "right" else cat([pad, s])
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, : int(n)] for i, n in enumerate(_lengths(lengths))]


def _lengths(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        return np.asarray(lengths.tolist(), dtype=np.int64).reshape(-1)
    return np.asarray(list(lengths), dtype=np.int64).reshape(-1)


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *)) whose sequence b has ``lengths[b]`` steps."""
    lens = _lengths(lengths)
    if enforce_sorted and np.any(np.diff(lens) > 0):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
            "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
            "sidestep this requirement if you do not need ONNX exportability."
        )
    if np.any(lens <= 0):
        raise RuntimeError("Length of all samples has to be greater than 0")
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if len(lens) != batch:
        raise ValueError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} "
            f"(batch_size={batch})"
        )
    if lens.max() > steps:
        raise RuntimeError(f"a length ({lens.max()}) is longer than the padded sequences ({steps})")
    order = np.argsort(-lens, kind="stable")
    sorted_lens = lens[order]
    batch_sizes = np.array([(sorted_lens > t).sum() for t in range(sorted_lens[0])], np.int64)
    idx = np.concatenate([t * batch + order[: batch_sizes[t]] for t in range(len(batch_sizes))])
    flat = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = flat[tensor(idx, device=input.device)]
    sorted_indices = unsorted_indices = None
    if not enforce_sorted:
        sorted_indices = tensor(order)
        unsorted_indices = tensor(np.argsort(order))
    return PackedSequence(data, tensor(batch_sizes), sorted_indices, unsorted_indices)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
):
    """The inverse of pack_padded_sequence: (padded, lengths), the batch in its original order."""
    data, batch_sizes = sequence.data, np.asarray(sequence.batch_sizes.tolist(), np.int64)
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being {steps}"
            )
        steps = total_length
    order = (
        np.arange(batch)
        if sequence.sorted_indices is None
        else np.asarray(sequence.sorted_indices.tolist(), np.int64)
    )
    pad_row = data.shape[0]  # the index of the padding row appended below
    where = np.full((steps, batch), pad_row, np.int64)
    offset = 0
    for t, n in enumerate(batch_sizes):
        where[t, order[:n]] = offset + np.arange(n)
        offset += n
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    rows = cat([data, pad])[tensor(where.reshape(-1), device=data.device)]
    padded = rows.reshape((steps, batch) + tuple(data.shape[1:]))
    lengths = np.zeros(batch, np.int64)
    lengths[order] = [(batch_sizes > k).sum() for k in range(batch)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, tensor(lengths)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
