"""LeNet on handwritten digits: the network of LeCun et al. (1989) on the 1,797 digit scans that
scikit-learn ships, upsampled to 16x16 like the zip-code images of the original paper.

The whole training loop is the one people write in PyTorch: a DataLoader of mini-batches,
forward, cross-entropy, zero_grad, backward, step; then accuracy on the 360 held-out digits.
``chainrule demo`` runs the same network with progress bars, plots and checkpoints.

Run it with:  python examples/lenet_digits.py          (3 epochs, about 6 s on 2 cores)
"""

import time

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.data import digits
from chainrule.utils.data import DataLoader, TensorDataset


class LeNet(nn.Module):
    """conv 5x5 → ReLU → max-pool 2 → conv 5x5 → ReLU → max-pool 2 → linear → ReLU → linear."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, padding=2)  # 1x16x16 → 8x16x16 → pool → 8x8x8
        self.conv2 = nn.Conv2d(8, 16, 5, padding=2)  # 8x8x8 → 16x8x8 → pool → 16x4x4
        self.fc1 = nn.Linear(16 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def accuracy(model, x, y) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(x).argmax(1)
    model.train()
    return (predicted == y).float().mean().item()


def main(
    epochs: int = 3,
    batch_size: int = 32,
    lr: float = 0.003,
    seed: int = 0,
    train_limit: int | None = None,
) -> dict:
    """Train for `epochs` epochs (on the first `train_limit` training images, if given)."""
    torch.manual_seed(seed)
    x_train, y_train = digits("train")  # (1437, 1, 16, 16) float32 in [0, 1], int64 labels
    x_test, y_test = digits("test")  # (360, 1, 16, 16): held out, the same on every machine
    if train_limit is not None:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    mean, std = x_train.mean(), x_train.std()  # normalise with the training set's statistics
    train = TensorDataset(torch.tensor((x_train - mean) / std), torch.tensor(y_train))
    x_test, y_test = torch.tensor((x_test - mean) / std), torch.tensor(y_test)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True)

    model = LeNet()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"LeNet with {n_params:,} parameters, {len(train)} training images, {len(y_test)} test")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    start = time.perf_counter()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
            count += len(yb)
        test_acc = accuracy(model, x_test, y_test)
        history.append({"epoch": epoch + 1, "loss": total / count, "test_accuracy": test_acc})
        print(
            f"epoch {epoch + 1}: training loss {total / count:.4f}, test accuracy "
            f"{test_acc:.2%}  ({time.perf_counter() - start:.1f} s)"
        )
    return {"history": history, "test_accuracy": history[-1]["test_accuracy"], "model": model}


if __name__ == "__main__":
    main()
