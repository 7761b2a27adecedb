"""Learning-rate schedules, and early stopping that puts the best weights back.

Part 1 prints what three common schedules do to the learning rate (base lr 0.1, 10 steps):
StepLR halves it every 3 steps, CosineAnnealingLR follows half a cosine down to 0,
OneCycleLR warms up to max_lr and anneals far below the start.

Part 2 trains a network that is much too large for its data (64 hidden units, 16 noisy points)
until it overfits: the validation loss falls, then rises while the training loss keeps falling.
``EarlyStopping(patience)`` stops the run once the validation loss has not improved for
`patience` epochs and restores the weights of the best epoch.

Run it with:  python examples/schedules_early_stopping.py
"""

import numpy as np

import chainrule as torch
import chainrule.nn as nn
from chainrule.optim import lr_scheduler
from chainrule.utils import EarlyStopping


def schedule_table(steps: int = 10, lr: float = 0.1) -> dict[str, list[float]]:
    makers = {
        "StepLR(step_size=3, gamma=0.5)": lambda o: lr_scheduler.StepLR(o, 3, gamma=0.5),
        "CosineAnnealingLR(T_max=10)": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=steps),
        "OneCycleLR(max_lr=1.0)": lambda o: lr_scheduler.OneCycleLR(
            o, max_lr=1.0, total_steps=steps
        ),
    }
    table = {}
    for name, make in makers.items():
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=0.9)
        schedule = make(optimizer)
        lrs = []
        for _ in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()  # a training step would go here
            schedule.step()  # then the schedule moves on, once per step (or epoch)
        table[name] = lrs
        print(f"{name:<31}" + " ".join(f"{v:.3f}" for v in lrs))
    return table


def early_stopping(
    n_train: int = 16,
    hidden: int = 64,
    patience: int | None = 20,
    max_epochs: int = 2000,
    seed: int = 0,
) -> dict:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)

    def data(n):
        x = rng.uniform(-3, 3, (n, 1))
        return torch.tensor(x), torch.tensor(np.sin(x) + 0.3 * rng.standard_normal((n, 1)))

    x_train, y_train = data(n_train)
    x_val, y_val = data(200)
    model = nn.Sequential(
        nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
    ).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    stopper = EarlyStopping(patience=patience if patience is not None else max_epochs)
    history = []
    for _ in range(max_epochs):
        loss = nn.functional.mse_loss(model(x_train), y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            val = nn.functional.mse_loss(model(x_val), y_val).item()
        history.append((loss.item(), val))
        if stopper.step(val, model):  # True: patience ran out; the best weights are back
            break
    if patience is None:
        print(
            f"without early stopping, after {max_epochs} epochs: validation loss "
            f"{history[-1][1]:.4f}, training loss {history[-1][0]:.4f}"
        )
        return {"history": history}
    with torch.no_grad():
        restored = nn.functional.mse_loss(model(x_val), y_val).item()
    epoch = len(history)
    print(
        f"stopped after epoch {epoch}: best validation loss {stopper.best:.4f} at epoch "
        f"{stopper.best_step + 1}, last {history[-1][1]:.4f} (training loss {history[-1][0]:.4f})"
    )
    print(f"validation loss of the restored model: {restored:.4f}")
    return {
        "history": history,
        "stopped_epoch": epoch,
        "best": stopper.best,
        "best_epoch": stopper.best_step + 1,
        "restored_val": restored,
    }


def main(
    max_epochs: int = 2000, patience: int = 20, overfit_epochs: int = 400, seed: int = 0
) -> dict:
    print("learning rate at each step:")
    table = schedule_table()
    print()
    result = early_stopping(patience=patience, max_epochs=max_epochs, seed=seed)
    if overfit_epochs:  # the same run, not stopped
        result["overfit"] = early_stopping(patience=None, max_epochs=overfit_epochs, seed=seed)
    return {"schedules": table, **result}


if __name__ == "__main__":
    main()
