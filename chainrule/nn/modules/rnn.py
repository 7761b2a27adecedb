"""Recurrent layers: RNN, LSTM, GRU and their one-step cells, with PyTorch's parameters.

The layers store ``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}`` (and ``weight_hr_l{k}`` for an LSTM with ``proj_size``), gates stacked in
PyTorch's order (i, f, g, o for LSTM; r, z, n for GRU), all drawn from U(-1/√hidden, 1/√hidden),
and call ``chainrule.ops.recurrent``: one fused primitive per layer and direction (see that
module for double backward).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ...ops import recurrent as R
from ...ops.creation import empty, tensor, zeros
from ...ops.shape import cat, pad
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from .module import Module

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


class RNNBase(Module):
    """The shared parameters and argument checks of RNN, LSTM and GRU."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if (
            not isinstance(dropout, numbers.Number)
            or not 0 <= dropout <= 1
            or isinstance(dropout, bool)
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an "
                "element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2,
            )
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size

        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        names = []
        for layer in range(num_layers):
            for d in range(directions):
                in_size = input_size if layer == 0 else real_hidden * directions
                suffix = f"_l{layer}" + ("_reverse" if d == 1 else "")
                shapes = [
                    ("weight_ih", (gate_size, in_size)),
                    ("weight_hh", (gate_size, real_hidden)),
                ]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                for name, shape in shapes:
                    p = Parameter(empty(shape, dtype=dtype, device=device))
                    setattr(self, name + suffix, p)
                    names.append(name + suffix)
        self._flat_weights_names = names
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        w = self._flat_weights
        per = len(w) // (self.num_layers * (2 if self.bidirectional else 1))
        return [w[i : i + per] for i in range(0, len(w), per)]

    def flatten_parameters(self) -> None:
        """A no-op: chainrule keeps no flattened weight buffer (PyTorch's is for cuDNN)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ----------------------------------------------------------------------------- forward
    def _prepare(self, input: Tensor, hx, n_states: int):
        """Checks shapes, batches an unbatched input and makes the zero states: returns
        (input, states, batched)."""
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead")
        batched = input.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                f"{input.shape[-1]}"
            )
        dtype = self._flat_weights[0].dtype
        if input.dtype != dtype:
            raise RuntimeError(
                f"{name}: input dtype {input.dtype} does not match the weights' dtype {dtype}: "
                f"convert one (input.to({dtype}) or module.to({input.dtype}))"
            )
        n_b = input.shape[batch_dim]
        n_ld = self.num_layers * (2 if self.bidirectional else 1)
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        shapes = [(n_ld, n_b, real_hidden), (n_ld, n_b, self.hidden_size)][:n_states]
        if hx is None:
            states = [zeros(s, dtype=input.dtype, device=input.device) for s in shapes]
            return input, states, batched
        states = list(hx) if n_states == 2 else [hx]
        want = 3 if batched else 2
        if any(s.ndim != want for s in states):
            dims = ", ".join(f"{s.ndim}-D" for s in states)
            what = "hx and cx" if n_states == 2 else "hx"
            raise RuntimeError(
                f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, {what} should also "
                f"be {want}-D but got ({dims}) tensor{'s' if n_states == 2 else ''}"
            )
        if not batched:
            states = [s.unsqueeze(1) for s in states]
        for k, (s, shape) in enumerate(zip(states, shapes)):
            if tuple(s.shape) != shape:
                raise RuntimeError(
                    f"Expected hidden{f'[{k}]' if n_states == 2 else ''} size {shape}, got "
                    f"{tuple(s.shape)}"
                )
        return input, states, batched

    def _forward_packed(self, packed: PackedSequence, hx):
        """A PackedSequence: the sequences of each length run together (each sequence is
        independent of the others, so this is exact), and the output is packed the same way.
        States come and go in the batch's original order, as in PyTorch."""
        bdim = 0 if self.batch_first else 1
        padded, lengths = pad_packed_sequence(packed, batch_first=self.batch_first)
        lens = lengths.tolist()
        steps = padded.shape[1 - bdim]
        states = None if hx is None else (list(hx) if isinstance(hx, tuple | list) else [hx])
        outs, finals, order = [], [], []
        for n in sorted(set(lens), reverse=True):
            rows = [b for b, k in enumerate(lens) if k == n]
            pick = tensor(rows, device=padded.device)
            x = padded.index_select(bdim, pick).narrow(1 - bdim, 0, n)
            h = None
            if states is not None:
                h = [st.index_select(1, pick) for st in states]
                h = tuple(h) if len(h) == 2 else h[0]
            out, final = self.forward(x, h)
            if n < steps:  # back to the full length, zeros after the end as PyTorch's
                out = pad(
                    out, (0, 0, 0, steps - n) if self.batch_first else (0, 0, 0, 0, 0, steps - n)
                )
            outs.append(out)
            finals.append(final if isinstance(final, tuple) else (final,))
            order += rows
        back = tensor(np.argsort(order), device=padded.device)
        out = cat(outs, bdim).index_select(bdim, back)
        final = [
            cat([f[k] for f in finals], 1).index_select(1, back) for k in range(len(finals[0]))
        ]
        repacked = pack_padded_sequence(out, lengths, self.batch_first, enforce_sorted=False)
        out = PackedSequence(repacked.data, repacked.batch_sizes, packed.sorted_indices,
                             packed.unsorted_indices)  # fmt: skip
        return out, (tuple(final) if len(final) == 2 else final[0])

    def _finish(self, output, states, batched):
        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            states = [s.squeeze(1) for s in states]
        return output, states

    def _args(self):
        return (
            self._flat_weights,
            self.bias,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
            self.batch_first,
        )


class RNN(RNNBase):
    """An Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) (or relu), stacked
    ``num_layers`` deep, optionally bidirectional.

    Args:
        input_size, hidden_size: feature sizes of x and h.
        num_layers: stacked layers (default 1).
        nonlinearity: 'tanh' or 'relu'.
        bias: use b_ih and b_hh (default True).
        batch_first: input and output are (B, T, ·) instead of (T, B, ·).
        dropout: dropout on each layer's output except the last's (in training).
        bidirectional: run a second, reversed direction and concatenate.

    Returns from forward(input, hx=None): (output, h_n).

    Example:
        >>> import chainrule as torch
        >>> rnn = torch.nn.RNN(4, 8, num_layers=2)
        >>> out, h = rnn(torch.randn(5, 3, 4))
        >>> out.shape, h.shape
        (chainrule.Size([5, 3, 8]), chainrule.Size([2, 3, 8]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)  # fmt: skip
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        input, states, batched = self._prepare(input, hx, 1)
        fn = R.rnn_tanh if self.nonlinearity == "tanh" else R.rnn_relu
        output, h = fn(input, states[0], *self._args())
        output, (h,) = self._finish(output, [h], batched)
        return output, h


class LSTM(RNNBase):
    """A long short-term memory network: gates (i, f, g, o) = (σ, σ, tanh, σ)(x W_ihᵀ + b_ih +
    h W_hhᵀ + b_hh), c' = f c + i g, h' = o tanh(c') (times W_hrᵀ with ``proj_size``).

    Args: as ``RNN`` (without nonlinearity), plus ``proj_size`` (0: no projection).

    Returns from forward(input, hx=None), hx = (h_0, c_0): (output, (h_n, c_n)).

    Example:
        >>> import chainrule as torch
        >>> lstm = torch.nn.LSTM(4, 8, batch_first=True)
        >>> out, (h, c) = lstm(torch.randn(3, 5, 4))
        >>> out.shape, h.shape
        (chainrule.Size([3, 5, 8]), chainrule.Size([1, 3, 8]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)  # fmt: skip

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        input, states, batched = self._prepare(input, hx, 2)
        output, h, c = R.lstm(input, states, *self._args())
        output, (h, c) = self._finish(output, [h, c], batched)
        return output, (h, c)


class GRU(RNNBase):
    """A gated recurrent unit network: (r, z) = σ(x W_ir,zᵀ + b_ir,z + h W_hr,zᵀ + b_hr,z),
    n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn)), h' = (1 - z) n + z h.

    Args: as ``RNN`` (without nonlinearity). Returns from forward(input, hx=None):
    (output, h_n).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)  # fmt: skip

    def forward(self, input: Tensor, hx: Tensor | None = None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        input, states, batched = self._prepare(input, hx, 1)
        output, h = R.gru(input, states[0], *self._args())
        output, (h,) = self._finish(output, [h], batched)
        return output, h


# ------------------------------------------------------------------------------------ cells
class RNNCellBase(Module):
    """The parameters shared by the cells: weight_ih (chunks·H, I), weight_hh (chunks·H, H),
    bias_ih, bias_hh, all U(-1/√H, 1/√H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:  # fmt: skip
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        n = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((n, input_size), dtype=dtype, device=device))
        self.weight_hh = Parameter(empty((n, hidden_size), dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty((n,), dtype=dtype, device=device))
            self.bias_hh = Parameter(empty((n,), dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _batch(self, input: Tensor, hx, n_states: int):
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.shape[-1]} expected "
                f"{self.input_size}"
            )
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            shape = (input.shape[0], self.hidden_size)
            states = [zeros(shape, dtype=input.dtype, device=input.device)] * n_states
        else:
            states = list(hx) if n_states == 2 else [hx]
            if not batched:
                states = [s.unsqueeze(0) for s in states]
        return input, states, batched

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity == "tanh":
            cell = R.rnn_tanh_cell
        elif self.nonlinearity == "relu":
            cell = R.rnn_relu_cell
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        input, (h,), batched = self._batch(input, hx, 1)
        h = cell(input, h, *self._weights())
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; forward(input, (h, c)=None) returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        input, states, batched = self._batch(input, hx, 2)
        h, c = R.lstm_cell(input, tuple(states), *self._weights())
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step; forward(input, h=None) returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (h,), batched = self._batch(input, hx, 1)
        h = R.gru_cell(input, h, *self._weights())
        return h if batched else h.squeeze(0)


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
