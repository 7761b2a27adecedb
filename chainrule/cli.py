"""The ``chainrule`` command: ``chainrule demo`` trains a network end to end, ``chainrule
explain`` shows backpropagation at work. ``chainrule COMMAND --help`` describes each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__

# the training options of `demo`; with --resume they come from the checkpoint instead
_TRAINING_OPTIONS = ("epochs", "batch_size", "lr", "optimizer", "schedule", "seed", "dataset")
_TRAINING_OPTIONS += ("data", "limit_batches")


def build_parser() -> argparse.ArgumentParser:
    from .demo import OPTIMIZERS, Config

    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: automatic differentiation and neural-network training on NumPy, "
        "with PyTorch's API.",
        epilog="Start with `chainrule demo` (about a minute on a laptop, no download), then "
        "`chainrule explain neuron`.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    defaults = Config()
    demo = commands.add_parser(
        "demo",
        help="train a LeNet-style network on handwritten digits and write a report",
        description="Train a LeNet-style convolutional network on the 1,797 handwritten digits "
        "that scikit-learn ships (8x8 scans upsampled to 16x16; no download), or on MNIST IDX "
        "files with --dataset mnist. Writes a run directory with a checkpoint, metrics.jsonl, "
        "plots and report.html. Ctrl-C saves a checkpoint; --resume continues it exactly.",
    )
    opt = demo.add_argument
    opt(
        "--epochs",
        type=_positive,
        default=None,
        help=f"passes over the training set (default: {defaults.epochs})",
    )
    opt(
        "--batch-size",
        type=_positive,
        default=None,
        help=f"images per optimizer step (default: {defaults.batch_size})",
    )
    opt(
        "--lr",
        type=float,
        default=None,
        help="peak learning rate (default: 0.01 for adam, adamw, nadam, radam; 0.1 for sgd "
        "with Nesterov momentum 0.9; 0.003 for rmsprop; 0.05 for adagrad)",
    )
    opt(
        "--optimizer",
        choices=OPTIMIZERS,
        default=None,
        help=f"the optimizer (default: {defaults.optimizer})",
    )
    opt(
        "--schedule",
        choices=("onecycle", "cosine", "constant"),
        default=None,
        help="learning-rate schedule over the whole run, stepped every batch "
        f"(default: {defaults.schedule})",
    )
    opt(
        "--seed",
        type=int,
        default=None,
        help=f"seed of the initial weights and the data order (default: {defaults.seed})",
    )
    opt(
        "--out",
        metavar="DIR",
        default=None,
        help="run directory to create (default: runs/DATASET-YYYYmmdd-HHMMSS)",
    )
    opt(
        "--device",
        default="cpu",
        help="where to train: cpu (default), or cuda / cuda:N on an NVIDIA GPU with CuPy",
    )
    opt(
        "--dataset",
        choices=("digits", "mnist"),
        default=None,
        help="digits: scikit-learn's bundled scans (needs chainrule[data]); mnist: the IDX "
        "files in --data (default: digits)",
    )
    opt(
        "--data",
        metavar="DIR",
        default=None,
        help="directory with MNIST's train-/t10k- images and labels IDX files (raw or .gz)",
    )
    opt(
        "--resume",
        metavar="RUN_DIR",
        default=None,
        help="continue the run in RUN_DIR from its checkpoint, to the same result as an "
        "uninterrupted run; its options come from the checkpoint",
    )
    # for tests and quick trials: not part of the documented interface
    opt("--limit-batches", type=_positive, default=None, help=argparse.SUPPRESS)
    opt("--stop-after-steps", type=_positive, default=None, help=argparse.SUPPRESS)
    demo.set_defaults(func=_demo)

    explain = commands.add_parser(
        "explain",
        help="show backpropagation step by step on small examples",
        description="Worked examples of backpropagation, computed live by chainrule's engine.",
    )
    topics = explain.add_subparsers(dest="topic", metavar="TOPIC", required=True)
    neuron = topics.add_parser(
        "neuron",
        help="one neuron through the forward pass, local derivatives, chain rule and update",
        description="Walk y_hat = w*x with loss (y_hat - y)^2 through one step of gradient "
        "descent, printing every number as the engine computes it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    neuron.add_argument("--x", type=float, default=2.0, help="the input")
    neuron.add_argument("--w", type=float, default=0.5, help="the initial weight")
    neuron.add_argument("--y", type=float, default=4.0, help="the target")
    neuron.add_argument("--lr", type=float, default=0.1, help="the learning rate")
    neuron.set_defaults(func=_explain_neuron)
    vanishing = topics.add_parser(
        "vanishing",
        help="per-layer gradient norms of a deep sigmoid network vs a ReLU one with He init",
        description="Backpropagate once through a deep sigmoid network (PyTorch's default "
        "init) and a ReLU network with He init, and compare the gradient norm of every "
        "layer: a table, and a plot with --out.",
    )
    vanishing.add_argument(
        "--depth", type=_positive, default=10, help="hidden layers (default: 10)"
    )
    vanishing.add_argument(
        "--width", type=_positive, default=64, help="units per layer (default: 64)"
    )
    vanishing.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and data (default: 0)"
    )
    vanishing.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="also write the plot DIR/vanishing.png (needs matplotlib)",
    )
    vanishing.set_defaults(func=_explain_vanishing)
    from .launch import build_parser as _run_arguments
    from .launch import run_from_args

    run = commands.add_parser(
        "run",
        help="run a training script on N processes (MPI ranks) through mpiexec",
        description="Run SCRIPT on N MPI ranks with one BLAS thread each: "
        "`chainrule run -n 4 train.py ARGS` (init_process_group('mpi') in the script).",
    )
    _run_arguments(run)
    run.set_defaults(func=run_from_args)
    return parser  # fmt: skip


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _demo(args: argparse.Namespace) -> int:
    from .demo import DEFAULT_LR, Config, run

    given = {k: getattr(args, k) for k in _TRAINING_OPTIONS if getattr(args, k) is not None}
    if args.resume is not None:
        if given or args.out is not None:
            names = ", ".join(
                "--" + k.replace("_", "-") for k in [*given, *(["out"] * bool(args.out))]
            )
            raise SystemExit(
                f"chainrule demo: --resume continues the run with its own options; drop {names} "
                "(or start a new run with --out to change them)"
            )
        return run(resume=args.resume, device=args.device, stop_after_steps=args.stop_after_steps)
    optimizer = given.get("optimizer", Config.optimizer)
    given.setdefault("lr", DEFAULT_LR.get(optimizer, Config.lr))
    if given.get("dataset") != "mnist" and "data" in given:
        raise SystemExit("chainrule demo: --data DIR is for --dataset mnist")
    return run(Config(**given), out=args.out, device=args.device,
               stop_after_steps=args.stop_after_steps)  # fmt: skip


def _explain_neuron(args: argparse.Namespace) -> int:
    from .explain import neuron

    neuron(x=args.x, w=args.w, y=args.y, lr=args.lr)
    return 0


def _explain_vanishing(args: argparse.Namespace) -> int:
    from .explain import vanishing

    vanishing(depth=args.depth, width=args.width, seed=args.seed, out=args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``chainrule`` command with ``argv`` (default: the process's arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
