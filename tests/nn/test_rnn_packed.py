"""Recurrent layers on PackedSequence inputs, against torch: packed outputs, final states and
every gradient, for sorted and unsorted batches, with and without initial states."""

import numpy as np
import pytest

import chainrule
import chainrule.nn  # noqa: F401
from chainrule.nn.utils.rnn import pack_padded_sequence as c_pack
from chainrule.nn.utils.rnn import pad_packed_sequence as c_unpack

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence as t_pack  # noqa: E402
from torch.nn.utils.rnn import pad_packed_sequence as t_unpack  # noqa: E402

ROWS = [
    ("LSTM", dict(num_layers=1), [5, 3, 3, 1], True),
    ("LSTM", dict(num_layers=2, bidirectional=True), [2, 5, 4], False),
    ("GRU", dict(num_layers=2), [4, 1, 4, 2], False),
    ("RNN", dict(bidirectional=True, nonlinearity="relu"), [3, 3, 2], True),
    ("LSTM", dict(batch_first=True, proj_size=2), [1, 4, 3], False),
]


@pytest.mark.parametrize("kind, options, lengths, with_state", ROWS)
def test_packed_input_matches_torch(kind, options, lengths, with_state):
    rng = np.random.default_rng(0)
    batch_first = options.get("batch_first", False)
    shape = (len(lengths), max(lengths), 3) if batch_first else (max(lengths), len(lengths), 3)
    x = rng.standard_normal(shape)
    chainrule.manual_seed(0)
    ours = getattr(chainrule.nn, kind)(3, 4, **options).double()
    theirs = getattr(torch.nn, kind)(3, 4, **options).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})  # fmt: skip
    sorted_ = lengths == sorted(lengths, reverse=True)
    xs = chainrule.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    pc = c_pack(xs, lengths, batch_first=batch_first, enforce_sorted=sorted_)
    pt = t_pack(xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=sorted_)
    hc = ht = None
    if with_state:
        n = ours.num_layers * (2 if ours.bidirectional else 1)
        h0 = rng.standard_normal((n, len(lengths), ours.proj_size or 4))
        c0 = rng.standard_normal((n, len(lengths), 4))
        hc = chainrule.tensor(h0, requires_grad=True)
        ht = torch.tensor(h0, requires_grad=True)
        if kind == "LSTM":
            hc, ht = (hc, chainrule.tensor(c0)), (ht, torch.tensor(c0))
    out_c, fin_c = ours(pc, hc)
    out_t, fin_t = theirs(pt, ht)
    np.testing.assert_allclose(out_c.data.numpy(force=True), out_t.data.detach().numpy(),
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(out_c.batch_sizes.numpy(), out_t.batch_sizes.numpy())
    fin_c = fin_c if isinstance(fin_c, tuple) else (fin_c,)
    fin_t = fin_t if isinstance(fin_t, tuple) else (fin_t,)
    for a, b in zip(fin_c, fin_t):
        np.testing.assert_allclose(a.numpy(force=True), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    padded_c, len_c = c_unpack(out_c, batch_first=batch_first)
    padded_t, len_t = t_unpack(out_t, batch_first=batch_first)
    assert len_c.tolist() == len_t.tolist()
    up = rng.standard_normal(tuple(padded_t.shape))
    (padded_c * chainrule.tensor(up)).sum().backward()
    (padded_t * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)  # fmt: skip


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_one_step_sequence_backward_matches_torch(kind):
    """Regression: BPTT of a one-step sequence reshaped an empty array with -1 and failed."""
    x = np.random.default_rng(1).standard_normal((1, 2, 3))
    chainrule.manual_seed(0)
    ours = getattr(chainrule.nn, kind)(3, 4).double()
    theirs = getattr(torch.nn, kind)(3, 4).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})  # fmt: skip
    ours(chainrule.tensor(x))[0].sum().backward()
    theirs(torch.tensor(x))[0].sum().backward()
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-10, err_msg=name)
