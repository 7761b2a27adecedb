"""EarlyStopping: rows of (options, metric sequence) -> the step at which it stops and the
best step whose weights end up in the model; plus state_dict round trip and errors."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import chainrule
import chainrule.nn as nn
from chainrule.utils import early_stopping
from chainrule.utils.early_stopping import EarlyStopping

NAN = math.nan

# (options, metrics, index of the step that returns True (None: never), best step)
ROWS = [
    ({"patience": 2}, [3.0, 2.0, 2.5, 2.4, 1.0], 3, 1),
    ({"patience": 3}, [3.0, 2.0, 2.5, 2.4, 1.0, 1.1], None, 4),
    ({"patience": 1}, [1.0, 1.0], 1, 0),  # equal is not better
    ({"patience": 2, "min_delta": 0.5}, [3.0, 2.7, 2.6, 2.0], 2, 0),  # too small to count
    ({"patience": 2, "mode": "max"}, [0.1, 0.5, 0.4, 0.6, 0.6, 0.55], 5, 3),
    ({"patience": 2, "mode": "max", "min_delta": 0.05}, [0.5, 0.54, 0.56, 0.57, 0.6], 4, 2),
    ({"patience": 2}, [1.0, NAN, NAN], 2, 0),  # NaN never improves
    ({"patience": 2}, [NAN, 2.0, 3.0, 4.0], 3, 1),
    ({"patience": 0}, [1.0], 0, 0),
]


def _model() -> nn.Module:
    model = nn.Linear(2, 1)
    with chainrule.no_grad():
        model.weight.fill_(-1.0)
    return model


def _run(options, metrics, model):
    stopper = EarlyStopping(**options)
    for k, metric in enumerate(metrics):
        with chainrule.no_grad():  # each "epoch" leaves its index in the weights
            model.weight.fill_(float(k))
        if stopper.step(metric, model):
            return stopper, k
    return stopper, None


@pytest.mark.parametrize("options,metrics,stop,best", ROWS, ids=[str(r[:2]) for r in ROWS])
def test_rows(options, metrics, stop, best):
    model = _model()
    stopper, stopped = _run(options, metrics, model)
    assert stopped == stop
    assert stopper.best_step == best
    assert stopper.should_stop == (stop is not None)
    if stop is not None:  # the best step's weights are back
        np.testing.assert_array_equal(model.weight.detach().numpy(), [[float(best), best]])
    else:
        np.testing.assert_array_equal(model.weight.detach().numpy(), [[len(metrics) - 1.0] * 2])


def test_no_restore_keeps_last_weights():
    model = _model()
    stopper, stopped = _run({"patience": 1, "restore_best_weights": False}, [1.0, 2.0], model)
    assert stopped == 1
    assert stopper.best_state is None
    np.testing.assert_array_equal(model.weight.detach().numpy(), [[1.0, 1.0]])


def test_best_state_is_a_copy():
    model = _model()
    stopper = EarlyStopping(patience=3)
    stopper.step(1.0, model)
    with chainrule.no_grad():
        model.weight.fill_(7.0)
    np.testing.assert_array_equal(stopper.best_state["weight"].numpy(), [[-1.0, -1.0]])


def test_accepts_tensor_metric_and_no_model():
    stopper = EarlyStopping(patience=1)
    assert stopper.step(chainrule.tensor(2.0)) is False
    assert stopper.step(chainrule.tensor(3.0)) is True
    assert stopper.best == 2.0


def test_state_dict_round_trip():
    metrics = [3.0, 2.0, 2.5, 2.4, 1.9, 2.2, 2.3, 2.1]
    straight_model = _model()
    straight, stopped = _run({"patience": 3}, metrics, straight_model)
    model = _model()
    first, _ = _run({"patience": 3}, metrics[:4], model)
    saved = first.state_dict()
    resumed = EarlyStopping()
    resumed.load_state_dict(saved)
    assert resumed.state_dict()["best_state"] is not saved["best_state"]
    for k, metric in enumerate(metrics[4:], start=4):
        with chainrule.no_grad():
            model.weight.fill_(float(k))
        if resumed.step(metric, model):
            break
    assert k == stopped == 7
    for key in ("best", "best_step", "num_bad_steps", "steps", "should_stop"):
        assert getattr(resumed, key) == getattr(straight, key)
    np.testing.assert_array_equal(model.weight.detach().numpy(), [[4.0, 4.0]])


@pytest.mark.parametrize(
    "options,match",
    [
        ({"mode": "avg"}, "mode 'avg' is unknown"),
        ({"patience": -1}, "patience"),
        ({"min_delta": -0.1}, "min_delta"),
    ],
)
def test_errors(options, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**options)


def test_docstring_example_runs():
    result = doctest.testmod(early_stopping, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
