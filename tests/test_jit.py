"""chainrule.jit: a traced step equals eager mode, retraces on a new signature, refuses what it
cannot replay (naming the line), and keeps RNG, training mode and hyper-parameters live.

Equality is BITWISE throughout: the replay calls the same ops' forward and backward on the same
arrays in the same order as the engine, and the optimizer's own step.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.jit import JitError

HERE = __file__


def _line_of(snippet: str) -> int:
    with open(HERE) as f:
        for n, line in enumerate(f, 1):
            if snippet in line and "_line_of" not in line:
                return n
    raise AssertionError(snippet)


# ---------------------------------------------------------------------------------- models
def _mlp():
    return nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)
    )


def _lenet():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(6 * 1 * 1, 10), nn.ReLU(), nn.Linear(10, 3),
    )  # fmt: skip


class _LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class _GPT(nn.Module):
    def __init__(self, vocab=11, ctx=6, d=16, heads=2):
        super().__init__()
        self.heads = heads
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        b, t = idx.shape
        x = self.tok(idx) + self.pos(torch.arange(t))
        c = x.shape[-1]
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.reshape(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))
        x = x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return self.head(x)


def _data(kind, rng):
    if kind == "mlp":
        return torch.tensor(rng.standard_normal((5, 6)).astype(np.float32)), torch.tensor(
            rng.integers(0, 3, 5)
        )
    if kind == "lenet":
        return torch.tensor(rng.standard_normal((4, 1, 8, 8)).astype(np.float32)), torch.tensor(
            rng.integers(0, 3, 4)
        )
    if kind == "lstm":
        return torch.tensor(rng.standard_normal((3, 4, 5)).astype(np.float32)), torch.tensor(
            rng.integers(0, 3, 3)
        )
    return torch.tensor(rng.integers(0, 11, (2, 6))), torch.tensor(rng.integers(0, 11, (2, 6)))


BUILD = {"mlp": _mlp, "lenet": _lenet, "lstm": _LSTMNet, "gpt": _GPT}


def _setup(kind, opt_name):
    torch.manual_seed(0)
    model = BUILD[kind]()
    opts = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
        "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    }
    opt = opts[opt_name](model.parameters())

    def step(x, y):
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return model, step


def _assert_same_state(m1, m2):
    for (name, p), q in zip(m1.named_parameters(), m2.parameters()):
        assert np.array_equal(p._data, q._data), name
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert np.array_equal(p.grad._data, q.grad._data, equal_nan=True), name


# ----------------------------------------------------------------------------- equality
@pytest.mark.parametrize(
    "kind, opt_name",
    [("mlp", "sgd"), ("lenet", "adam"), ("lstm", "adam"), ("gpt", "adamw"), ("mlp", "adamw")],
)
def test_jit_equals_eager_bitwise(kind, opt_name):
    rng = np.random.default_rng(1)
    batches = [_data(kind, rng) for _ in range(2)]
    m_eager, step_eager = _setup(kind, opt_name)
    m_jit, step = _setup(kind, opt_name)
    jstep = torch.jit(step)
    torch.manual_seed(5)
    eager = [step_eager(*batches[i % 2]) for i in range(4)]
    torch.manual_seed(5)
    jitted = [jstep(*batches[i % 2]) for i in range(4)]
    assert jstep.traces == 1
    for a, b in zip(eager, jitted):
        assert isinstance(b, torch.Tensor) and b.shape == ()
        assert a.item() == b.item()
    _assert_same_state(m_eager, m_jit)


def test_manual_sgd_on_raw_tensors_and_grads_visible():
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s).astype(np.float32) for s in [(2, 8), (8,), (8, 1), (1,)]]
    x = torch.tensor(rng.standard_normal((1, 2)).astype(np.float32))
    y = torch.tensor([[0.5]])

    def make():
        params = [torch.tensor(w.copy(), requires_grad=True) for w in ws]

        def step():
            for p in params:
                p.grad = None
            h = torch.tanh(x @ params[0] + params[1])
            loss = ((h @ params[2] + params[3] - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= 0.1 * p.grad
            return loss

        return params, step

    pe, se = make()
    pj, sj = make()
    sj = torch.jit(sj)
    for _ in range(3):
        assert se().item() == sj().item()
        for a, b in zip(pe, pj):
            assert np.array_equal(a._data, b._data)
            assert np.array_equal(a.grad._data, b.grad._data)
            assert a._version == b._version


def test_grad_accumulation_across_calls():
    """No zero_grad inside the step: gradients add up until the caller clears them."""
    torch.manual_seed(0)
    m1, m2 = nn.Linear(3, 2), nn.Linear(3, 2)
    m2.load_state_dict(m1.state_dict())
    x = torch.randn(4, 3)

    def make(m):
        def step(x):
            m(x).pow(2).sum().backward()

        return step

    s1, s2 = make(m1), torch.jit(make(m2))
    for i in range(4):
        s1(x)
        s2(x)
        if i == 1:
            m1.zero_grad()
            m2.zero_grad()
        _assert_same_state(m1, m2)


# ----------------------------------------------------------------------------- retracing
def test_retrace_on_shape_dtype_requires_grad_and_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1))

    @torch.jit
    def f(x):
        return model(x).sum()

    x = torch.randn(2, 3)
    f(x)
    f(torch.randn(2, 3))
    assert f.traces == 1
    f(torch.randn(5, 3))  # shape
    assert f.traces == 2
    model.double()
    f(torch.randn(5, 3, dtype=torch.float64))  # dtype (of the input and of the parameters)
    assert f.traces == 3
    model.float()
    xr = torch.randn(5, 3, requires_grad=True)
    f(xr)  # requires_grad
    assert f.traces == 4
    model.eval()
    out = f(x)  # training flag: dropout is off now
    assert f.traces == 5
    with torch.no_grad():
        assert out.item() == model(x).sum().item()
    with torch.no_grad():
        f(x)  # grad mode
    assert f.traces == 6


def test_parameter_frozen_after_trace_retraces():
    torch.manual_seed(0)
    m = nn.Linear(3, 1)

    @torch.jit
    def f(x):
        m(x).sum().backward()

    f(torch.ones(2, 3))
    m.bias.requires_grad_(False)
    m.bias.grad = None
    f(torch.ones(2, 3))
    assert f.traces == 2
    assert m.bias.grad is None and m.weight.grad is not None


# ------------------------------------------------------------------------------ refusals
def test_item_inside_step_is_refused_with_the_line():
    m = nn.Linear(2, 1)

    @torch.jit
    def f(x):
        loss = m(x).sum()
        return loss.item()  # the refused line

    with pytest.raises(
        JitError, match=rf"\.item\(\).*test_jit\.py:{_line_of('# the refused line')}"
    ):
        f(torch.ones(1, 2))


def test_branch_on_tensor_value_is_refused_with_the_line():
    m = nn.Linear(2, 1)

    @torch.jit
    def f(x):
        y = m(x).sum()
        if y > 0:  # a data-dependent branch
            return y * 2
        return y

    with pytest.raises(
        JitError, match=rf"bool\(\).*test_jit\.py:{_line_of('# a data-dependent branch')}"
    ):
        f(torch.ones(1, 2))


def test_random_factory_inside_step_is_refused():
    @torch.jit
    def f(x):
        return x + torch.randn(3)  # a random draw

    with pytest.raises(JitError, match=rf"random draw.*test_jit\.py:{_line_of('# a random draw')}"):
        f(torch.ones(3))


def test_batch_norm_training_is_refused_not_baked_in():
    bn = nn.BatchNorm1d(3)

    @torch.jit
    def f(x):
        return bn(x).sum()  # batch statistics

    with pytest.raises(JitError, match=rf"test_jit\.py:{_line_of('# batch statistics')}"):
        f(torch.randn(4, 3))
    bn.eval()
    x = torch.randn(4, 3)
    assert f(x).item() == f(x).item() == bn(x).sum().item()


# ----------------------------------------------------------------------------- live state
def test_dropout_rng_matches_eager_from_the_same_seed():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))
    x = torch.ones(4, 8)

    def f(x):
        return m(x)

    jf = torch.jit(f)
    torch.manual_seed(3)
    eager = [f(x).detach().numpy().copy() for _ in range(3)]
    torch.manual_seed(3)
    jitted = [jf(x).numpy().copy() for _ in range(3)]
    for a, b in zip(eager, jitted):
        assert np.array_equal(a, b)
    assert not np.array_equal(jitted[1], jitted[2])  # a fresh mask every call


def test_scheduler_lr_change_takes_effect():
    def run(use_jit):
        torch.manual_seed(0)
        m = nn.Linear(3, 1)
        opt = torch.optim.SGD(m.parameters(), lr=0.5)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
        x = torch.ones(2, 3)

        def step():
            opt.zero_grad()
            loss = m(x).pow(2).mean()
            loss.backward()
            opt.step()
            return loss

        if use_jit:
            step = torch.jit(step)
        losses = []
        for _ in range(4):
            losses.append(step().item())
            sched.step()
        return losses, m.weight._data.copy()

    (le, we), (lj, wj) = run(False), run(True)
    assert le == lj
    assert np.array_equal(we, wj)


def test_outputs_structure_and_inputs_passthrough():
    m = nn.Linear(2, 2)

    @torch.jit
    def f(x, scale):
        y = m(x) * scale
        return {"y": y, "x": x, "pair": (y.sum(), 3)}

    x = torch.ones(1, 2)
    for _ in range(2):
        out = f(x, 2.0)
        assert out["x"] is x and out["pair"][1] == 3
        with torch.no_grad():
            assert np.array_equal(out["y"].numpy(), (m(x) * 2.0).numpy())
    f(x, 3.0)  # a Python number is part of the signature
    assert f.traces == 2


def test_simple_ops_are_written_inline_and_stay_bitwise_with_a_retained_graph():
    """add, sub, mul, tanh and 2-D matmul are NumPy expressions in the program (no op call);
    a second backward through the retained graph reads their inputs again, and an input that
    needs no gradient gets None, as the ops return."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    x = torch.tensor(rng.standard_normal((2, 3)).astype(np.float32))

    def make():
        w = torch.tensor(w0.copy(), requires_grad=True)

        def step():
            w.grad = None
            h = torch.tanh(x @ w) * 2.0 - x.sum()
            loss = (h * h + h).sum()
            loss.backward(retain_graph=True)
            loss.backward()
            return loss

        return w, step

    we, se = make()
    wj, sj = make()
    sj = torch.jit(sj)
    src = sj.code()
    assert "np.tanh(" in src and " @ " in src and "FMatMul" not in src and "FTanh" not in src
    for _ in range(3):
        assert se().item() == sj().item()
        assert np.array_equal(we.grad._data, wj.grad._data)


def test_code_shows_the_program():
    m = nn.Linear(2, 1)
    f = torch.jit(lambda x: m(x).sum())
    src = f.code(torch.ones(1, 2))
    assert "Linear" in src and "forward" in src


# ------------------------------------------------------------------------ torch.compile
def test_compile_training_step_goes_through_jit():
    torch.manual_seed(0)
    m = nn.Linear(3, 1)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = m(x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        cstep = torch.compile(step)
        a = cstep(torch.ones(2, 3))
        b = cstep(torch.ones(2, 3))
    msgs = [str(x.message) for x in w if "compile" in str(x.message)]
    assert len(msgs) == 1 and "chainrule.jit" in msgs[0] and "eager" not in msgs[0]
    assert b.item() < a.item()


def test_compile_model_runs_eagerly_when_outputs_need_a_graph():
    torch.manual_seed(0)
    m = nn.Linear(3, 1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        cm = torch.compile(m)
        out = cm(torch.ones(2, 3))
        out.sum().backward()  # the eager path keeps the graph
        cm(torch.ones(2, 3))
        with torch.no_grad():
            y = cm(torch.ones(2, 3))  # inference: through jit
            y = cm(torch.ones(2, 3))
    msgs = [str(x.message) for x in w if "compile" in str(x.message)]
    assert any("eager" in s for s in msgs) and any("chainrule.jit" in s for s in msgs)
    assert m.weight.grad is not None
    assert cm.weight is m.weight  # attributes pass through to the model
    with torch.no_grad():
        assert np.array_equal(y.numpy(), m(torch.ones(2, 3)).numpy())


def test_clip_grad_norm_and_accuracy_are_replayed_live():
    rng = np.random.default_rng(0)
    batches = [_data("mlp", rng) for _ in range(3)]

    def make():
        torch.manual_seed(0)
        model = _mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.5)

        def step(x, y):
            opt.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05)
            opt.step()
            acc = (logits.argmax(1) == y).float().mean()
            return loss, norm, acc

        return model, step

    m1, s1 = make()
    m2, s2 = make()
    s2 = torch.jit(s2)
    for x, y in batches:
        a, b = s1(x, y), s2(x, y)
        for u, v in zip(a, b):
            assert u.item() == v.item()
        _assert_same_state(m1, m2)
    assert s2.traces == 1


def test_module_hooks_are_refused_not_skipped():
    m = nn.Linear(2, 1)
    m.register_forward_hook(lambda mod, args, out: None)
    with pytest.raises(JitError, match="hooks"):
        torch.jit(lambda x: m(x).sum())(torch.ones(1, 2))


def test_jit_of_a_module_and_the_retrace_warning():
    torch.manual_seed(0)
    m = nn.Linear(3, 2)
    jm = torch.jit(m, max_traces=2)
    with torch.no_grad():
        for n in (1, 2):
            assert np.array_equal(jm(torch.ones(n, 3)).numpy(), m(torch.ones(n, 3)).numpy())
        with pytest.warns(UserWarning, match="traced 3 times"):
            jm(torch.ones(3, 3))


def test_compile_falls_back_to_eager_without_running_twice():
    """Batch norm's running statistics cannot be replayed: compile runs the model eagerly, and
    the refused trace leaves no trace in the buffers."""
    torch.manual_seed(0)
    m1 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m2.load_state_dict(m1.state_dict())
    cm = torch.compile(m2)
    xs = [torch.randn(5, 3) for _ in range(2)]
    with warnings.catch_warnings(record=True) as w, torch.no_grad():
        warnings.simplefilter("always")
        for x in xs:
            assert np.array_equal(cm(x).numpy(), m1(x).numpy())
    assert sum("runs eagerly" in str(x.message) for x in w) == 1
    for a, b in zip(m1.buffers(), m2.buffers()):
        assert np.array_equal(a._data, b._data)


def test_a_closure_number_that_changes_traces_again():
    w = torch.ones(2, requires_grad=True)
    lr = 0.5

    @torch.jit
    def step():
        w.grad = None
        (w * w).sum().backward()
        with torch.no_grad():
            w.sub_(lr * w.grad)

    step()
    step()
    assert w.tolist() == [0.0, 0.0] and step.traces == 1
    w.data = torch.ones(2)
    lr = 0.25  # noqa: F841  (read by step through its closure)
    step()
    assert w.tolist() == [0.5, 0.5] and step.traces == 2


def test_a_jitted_model_inside_a_jitted_step():
    torch.manual_seed(0)
    m = nn.Linear(3, 1)
    jm = torch.jit(m)
    with torch.no_grad():
        jm(torch.ones(2, 3))  # traced and cached on its own

    @torch.jit
    def step(x):
        m.zero_grad()
        loss = jm(x).sum()  # runs inline in the outer trace
        loss.backward()
        return loss

    for _ in range(2):
        step(torch.ones(2, 3))
        assert np.array_equal(m.weight.grad._data, np.full((1, 3), 2.0, np.float32))


def test_a_step_that_switches_modes_replays_the_switch():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))

    @torch.jit
    def evaluate(x):
        m.eval()
        with torch.no_grad():
            y = m(x)
        m.train()
        return y

    x = torch.ones(2, 3)
    for _ in range(3):
        y = evaluate(x)
        assert m.training and m[1].training
    with torch.no_grad():
        m.eval()
        assert np.array_equal(y.numpy(), m(x).numpy())
    assert evaluate.traces == 1


def test_grad_scaler_skips_inf_steps_and_changes_its_scale_live():
    def make():
        torch.manual_seed(0)
        m = nn.Linear(3, 1)
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)

        def step(x):
            opt.zero_grad()
            loss = m(x).pow(2).mean()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss

        return m, scaler, step

    m1, sc1, s1 = make()
    m2, sc2, s2 = make()
    s2 = torch.jit(s2)
    with np.errstate(invalid="ignore"):
        for x in [torch.ones(2, 3), torch.full((2, 3), float("inf")), torch.ones(2, 3)]:
            s1(x)
            s2(x)
            assert sc1.get_scale() == sc2.get_scale()
            _assert_same_state(m1, m2)
    assert sc2.get_scale() == 2.0**15 and s2.traces == 1


@pytest.mark.parametrize("opt_name", ["sgd", "adam", "adamw"])
def test_fused_optimizer_step_and_its_fallback(opt_name):
    """After the trace the optimizer runs over one flat array per group (optimizer.step itself
    is not called) with eager's bits; a replaced parameter array sends it back to
    optimizer.step, still with eager's bits."""
    rng = np.random.default_rng(2)
    batches = [_data("mlp", rng) for _ in range(5)]
    m1, s1 = _setup("mlp", opt_name)
    m2, s2 = _setup("mlp", opt_name)
    s2 = torch.jit(s2)
    opt = next(c.cell_contents for c in s2.fn.__closure__ if hasattr(c.cell_contents, "state"))
    calls = []
    for i, (x, y) in enumerate(batches):
        if i == 1:
            step = opt.step
            opt.step = lambda step=step: calls.append(1) or step()  # counts per-parameter steps
        if i == 3:
            for m in (m1, m2):
                m[0].bias.data = m[0].bias.detach().clone()  # a new array: fused path off
        assert s1(x, y).item() == s2(x, y).item()
        _assert_same_state(m1, m2)
    assert len(calls) == 2 and s2.traces == 1
    state = opt.state_dict()["state"]
    assert len(state) == len(list(m2.parameters()))
