"""The training-step benchmarks: four models written once against the PyTorch API.

Each `*_step(m)` builds its model with module `m` (chainrule or torch), gives it the weights
that chainrule's seeded initialisation makes (NumPy's PCG64 from a fixed seed, copied into
torch through ``load_state_dict``: the same numbers in both frameworks), makes one fixed batch
with NumPy and returns a closure that does one full training step on it and returns the loss.
"""

from __future__ import annotations

import numpy as np

import chainrule

SEED = 0


def _weights(build):
    """The initial state dict, as NumPy arrays, from chainrule's seeded initialisation."""
    chainrule.manual_seed(SEED)
    return {k: v.numpy().copy() for k, v in build(chainrule).state_dict().items()}


def _model(m, build):
    model = build(m)
    state = {k: m.tensor(v) for k, v in _weights(build).items()}
    model.load_state_dict(state)
    return model


def _train_step(m, model, opt, loss_fn, x, y):
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


# --------------------------------------------------------------------------- tiny MLP
def _mlp_arrays(sizes, batch):
    """Identical float32 data and initial weights (uniform ±1/√fan_in, like nn.Linear)."""
    rng = np.random.default_rng(SEED)
    arrays = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        arrays.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        arrays.append(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    return arrays, x, y


def mlp_tiny_step(m, sizes=(2, 16, 16, 1), batch=1, lr=0.01):
    """A tanh MLP on raw tensors: zero grads, forward, MSE, backward, SGD under no_grad."""
    arrays, xa, ya = _mlp_arrays(sizes, batch)
    params = [m.tensor(a, requires_grad=True) for a in arrays]
    x, y = m.tensor(xa), m.tensor(ya)

    def step():
        for p in params:
            p.grad = None  # optimizer.zero_grad(set_to_none=True)
        h = x
        for k in range(0, len(params) - 2, 2):
            h = m.tanh(h @ params[k] + params[k + 1])
        out = h @ params[-2] + params[-1]
        err = out - y
        loss = (err * err).mean()
        loss.backward()
        with m.no_grad():
            for p in params:
                p -= lr * p.grad
        return loss

    return step


# ------------------------------------------------------------------------------- MLP
def _mlp(m):
    nn = m.nn
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


def mlp_step(m):
    rng = np.random.default_rng(SEED)
    x = m.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    y = m.tensor(rng.integers(0, 10, 128))
    model = _model(m, _mlp)
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return _train_step(m, model, opt, m.nn.functional.cross_entropy, x, y)


# ----------------------------------------------------------------------------- LeNet-5
def _lenet(m):
    nn = m.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def lenet_step(m):
    rng = np.random.default_rng(SEED)
    x = m.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = m.tensor(rng.integers(0, 10, 64))
    model = _model(m, _lenet)
    opt = m.optim.Adam(model.parameters(), lr=1e-3)
    return _train_step(m, model, opt, m.nn.functional.cross_entropy, x, y)


# --------------------------------------------------------------------------------- GPT
VOCAB, CONTEXT, D_MODEL, HEADS, BLOCKS = 65, 64, 128, 4, 2


def _gpt(m, vocab=VOCAB, context=CONTEXT, d_model=D_MODEL, heads=HEADS, blocks=BLOCKS,
         checkpoint=False):  # fmt: skip
    """A pre-norm GPT; with `checkpoint`, each block runs under activation checkpointing."""
    nn, F = m.nn, m.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)
            self.ln2 = nn.LayerNorm(d_model)
            self.fc = nn.Linear(d_model, 4 * d_model)
            self.out = nn.Linear(4 * d_model, d_model)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
            q, k, v = (z.reshape(b, t, heads, c // heads).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
            return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, d_model)
            self.pos = nn.Embedding(context, d_model)
            self.blocks = nn.Sequential(*[Block() for _ in range(blocks)])
            self.ln_f = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab, bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(m.arange(idx.shape[1]))
            if checkpoint:
                for block in self.blocks:
                    x = m.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
            else:
                x = self.blocks(x)
            return self.head(self.ln_f(x))

    return GPT()


def gpt_step(m, batch=16, **sizes):
    """A GPT training step (AdamW, cross-entropy over the vocabulary); `sizes` are _gpt's."""
    vocab, context = sizes.get("vocab", VOCAB), sizes.get("context", CONTEXT)
    rng = np.random.default_rng(SEED)
    idx = m.tensor(rng.integers(0, vocab, (batch, context)))
    targets = m.tensor(rng.integers(0, vocab, (batch, context)))
    model = _model(m, lambda mm: _gpt(mm, **sizes))
    opt = m.optim.AdamW(model.parameters(), lr=3e-4)

    def loss_fn(logits, y):
        return m.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))

    return _train_step(m, model, opt, loss_fn, idx, targets)


# -------------------------------------------------------------------------------- LSTM
def _lstm(m):
    nn = m.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(32, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    return Net()


def lstm_step(m):
    rng = np.random.default_rng(SEED)
    x = m.tensor(rng.standard_normal((32, 50, 32)).astype(np.float32))
    y = m.tensor(rng.integers(0, 10, 32))
    model = _model(m, _lstm)
    opt = m.optim.Adam(model.parameters(), lr=1e-3)
    return _train_step(m, model, opt, m.nn.functional.cross_entropy, x, y)


# --------------------------------------------------------------------------------- JAX
# The same steps with jax.jit (a pure function of the weights, the optimizer state and the
# batch); JAX is optional: these import it when called, in the benchmark's JAX process.
def _jax_update(loss_fn, lr, momentum=0.0):
    """jit(value_and_grad + SGD with momentum as torch.optim.SGD: b ← μ·b + g; p ← p - lr·b)."""
    import jax

    @jax.jit
    def update(params, bufs, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        if momentum:
            bufs = [momentum * b + g for b, g in zip(bufs, grads)]
            grads = bufs
        return [p - lr * g for p, g in zip(params, grads)], bufs, loss

    return update


def _jax_loop(update, params, x, y):
    import jax.numpy as jnp

    state = {"params": [jnp.asarray(p) for p in params]}
    state["bufs"] = [jnp.zeros_like(p) for p in state["params"]]
    x, y = jnp.asarray(x), jnp.asarray(y)

    def step():
        state["params"], state["bufs"], loss = update(state["params"], state["bufs"], x, y)
        return loss.block_until_ready()

    return step


def jax_mlp_tiny(sizes=(2, 16, 16, 1), batch=1, lr=0.01):
    """mlp_tiny_step (tanh, MSE, plain SGD) with the same data and weights."""
    import jax.numpy as jnp

    arrays, x, y = _mlp_arrays(sizes, batch)

    def loss_fn(params, x, y):
        h = x
        for k in range(0, len(params) - 2, 2):
            h = jnp.tanh(h @ params[k] + params[k + 1])
        out = h @ params[-2] + params[-1]
        return jnp.mean((out - y) ** 2)

    return _jax_loop(_jax_update(loss_fn, lr), arrays, x, y)


def jax_mlp_step():
    """mlp_step's model, batch, cross-entropy and SGD(momentum=0.9) in JAX."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    w = _weights(_mlp)
    params = [w[f"{i}.{k}"] for i in (0, 2, 4) for k in ("weight", "bias")]

    def loss_fn(params, x, y):
        h = x
        for k in range(0, 6, 2):
            h = h @ params[k].T + params[k + 1]
            if k < 4:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return _jax_loop(_jax_update(loss_fn, 0.01, momentum=0.9), params, x, y)


JAX_STEPS = {"mlp_step": "jax_mlp_step"}  # training steps above that have a JAX version


STEPS = [
    ("MLP 784-512-512-10 train step (ReLU, batch 128, cross-entropy, SGD momentum)", mlp_step,
     "nn.Sequential of Linear/ReLU; F.cross_entropy; optim.SGD(momentum=0.9)"),
    ("LeNet-5 train step (1x28x28, batch 64, Adam)", lenet_step,
     "conv 6@5x5 pad 2, ReLU, max-pool 2, conv 16@5x5, ReLU, max-pool 2, 120, 84, 10"),
    ("GPT train step (vocab 65, context 64, d 128, 4 heads, 2 blocks, batch 16, AdamW)",
     gpt_step, "pre-norm blocks, F.scaled_dot_product_attention(is_causal=True), GELU(tanh)"),
    ("LSTM train step (input 32, hidden 128, 50 steps, batch 32, Adam)", lstm_step,
     "nn.LSTM(batch_first=True), last step to a Linear head, cross-entropy over 10 classes"),
]  # fmt: skip
