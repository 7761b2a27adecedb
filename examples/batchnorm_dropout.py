"""Batch norm and dropout behave differently in training and in evaluation: ``model.train()``
and ``model.eval()`` switch them.

- Dropout, training: each activation is zeroed with probability p and the survivors are scaled
  by 1/(1-p), so the expected value is unchanged; two calls give two different masks.
  Evaluation: the identity.
- BatchNorm, training: normalises with the batch's own mean and variance, and updates running
  estimates, running ← (1 - momentum) · running + momentum · batch statistic (momentum 0.1).
  Evaluation: normalises with the running estimates, so one sample's output does not depend on
  the rest of its batch.

Run it with:  python examples/batchnorm_dropout.py
"""

import numpy as np

import chainrule as torch
import chainrule.nn as nn


def _rounded(t) -> list[float]:
    return [round(float(v), 4) for v in t.tolist()]


def main(
    batch: int = 64, features: int = 4, steps: int = 10, p: float = 0.5, seed: int = 0
) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    # features with mean 3 and standard deviation 2
    x = torch.tensor((3 + 2 * rng.standard_normal((batch, features))).astype(np.float32))

    dropout = nn.Dropout(p)
    ones = torch.ones(10000)
    a, b = dropout(ones), dropout(ones)
    zero_share = (a == 0).float().mean().item()
    print(
        f"Dropout(p={p}) training: {zero_share:.1%} zeroed, survivors = {a.max().item():g}, "
        f"mean {a.mean().item():.3f}; two calls differ: {not torch.equal(a, b)}"
    )
    dropout.eval()
    print(f"Dropout eval: identity: {torch.equal(dropout(ones), ones)}")

    bn = nn.BatchNorm1d(features)
    for _ in range(steps):  # training steps on the same batch
        y_train = bn(x)
    batch_mean = x.mean(0)
    expected_running = (1 - 0.9**steps) * batch_mean  # starts at 0, moves 10% per step
    running_ok = torch.allclose(bn.running_mean, expected_running, atol=1e-5)
    print(
        f"BatchNorm1d training: output mean {y_train.mean(0).abs().max().item():.1e} (max |.| "
        f"per feature), std {y_train.std(0, unbiased=False).mean().item():.4f}"
    )
    print(f"  after {steps} steps running_mean = {_rounded(bn.running_mean)}")
    print(f"  = (1 - 0.9^{steps}) · batch mean {_rounded(batch_mean)}: {running_ok}")
    bn.eval()
    y_eval = bn(x)
    # the running estimates have covered only 1 - 0.9^steps of the way: outputs are off-centre
    print(f"BatchNorm1d eval: output mean {y_eval.mean().item():.4f} (running statistics)")
    one = bn(x[:1])
    same = torch.allclose(one, y_eval[:1])
    print(f"  one sample alone gives the same output as inside the batch: {same}")
    return {
        "dropout_zero_share": zero_share,
        "dropout_scale": a.max().item(),
        "bn_train_mean": y_train.mean(0).abs().max().item(),
        "bn_train_std": y_train.std(0, unbiased=False).mean().item(),
        "running_ok": running_ok,
        "bn_eval_mean": y_eval.mean().item(),
        "eval_independent": same,
    }


if __name__ == "__main__":
    main()
