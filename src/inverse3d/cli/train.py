"""``inverse3d train``: train an image-to-3D network (voxels, points, mesh or implicit) on the built-in dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Optional

import tyro

from inverse3d.tasks.single_view import TrainConfig


@dataclass
class Args(TrainConfig):
    """Train a single-view reconstruction network (ResNet-18 encoder + the decoder of --type) on the built-in
    procedural shapes, with checkpoints, exact --resume and torchrun data parallelism; writes checkpoint.pt and
    loss.png into --out-dir. An existing checkpoint.pt there is never replaced silently: continue it with --resume
    or replace it with --overwrite. Evaluate the result with ``inverse3d eval --checkpoint OUT_DIR/checkpoint.pt``."""

    # a str, not a Path: tyro reads "" as Path("."), and --out-dir "" must be an error, not the current folder
    out_dir: Annotated[str, tyro.conf.arg(metavar="PATH")] = "out/train"  # type: ignore[assignment]
    """Folder for checkpoint.pt, loss.png and config.json (locked while training: one run per folder)."""
    data_root: Annotated[str, tyro.conf.arg(metavar="PATH")] = "data/procedural"  # type: ignore[assignment]
    """Cache folder of the built-in dataset (generated there on first use)."""
    viewer: Optional[str] = None
    """Stream the step, loss and the current prediction to a browser viewer at [HOST:]PORT while training (e.g.
    8080; needs pip install -e '.[viewer]'); costs at most ~5% of the training time."""


def run(args: Args) -> int:
    from inverse3d.cli.options import run_training
    from inverse3d.tasks.single_view import train

    def describe(r) -> str:
        last = f", last loss {r.losses[-1]:.4g}" if r.losses else ""
        return f"trained {args.type} to step {r.step} in {r.seconds:.1f} s{last}"

    return run_training(args, train, describe)  # checks every option before any work


if __name__ == "__main__":  # python -m inverse3d.cli.train, e.g. under torchrun -m
    raise SystemExit(run(tyro.cli(Args)))
