"""Optimizer bugs found in use, each pinned by a test named after it."""

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

ROWS = [(name, {}) for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                 "Adamax", "NAdam", "RAdam"]]  # fmt: skip
ROWS += [("Adam", {"amsgrad": True}), ("AdamW", {"amsgrad": True})]


@pytest.mark.parametrize("name, options", ROWS)
def test_a_0d_parameter_steps_like_torch(name, options):
    kwargs = {"lr": 0.1, **options}
    values = []
    for m in (chainrule, torch):
        p = m.tensor(1.5, dtype=m.float64, requires_grad=True)
        opt = getattr(m.optim, name)([p], **kwargs)
        for _ in range(3):
            opt.zero_grad()
            (p * p * p).backward()
            opt.step()
        values.append(p.detach().numpy().item())
    np.testing.assert_allclose(values[0], values[1], rtol=1e-12)
