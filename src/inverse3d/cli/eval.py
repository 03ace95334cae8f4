"""``inverse3d eval``: F1 / chamfer / IoU of a trained checkpoint on a split, with plots and a gallery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Optional

import tyro

from inverse3d.tasks.single_view import EvalConfig


@dataclass
class Args(EvalConfig):
    """Evaluate a checkpoint of ``inverse3d train`` on a split of the dataset it was trained with: prints F1 at each
    threshold, chamfer and IoU, and writes metrics.csv, metrics.json, f1.png, a gallery of turntables and index.html
    into --out-dir."""

    # paths as str, not Path: tyro reads "" as Path("."), and an empty path must be an error, not the current folder
    checkpoint: Annotated[str, tyro.conf.arg(metavar="PATH")] = "out/train/checkpoint.pt"  # type: ignore[assignment]
    """Checkpoint written by ``inverse3d train`` (a file)."""
    data_root: Annotated[Optional[str], tyro.conf.arg(metavar="PATH")] = None  # type: ignore[assignment]
    """Cache folder of the built-in dataset; default: the one the model was trained with."""
    out_dir: Annotated[str, tyro.conf.arg(metavar="PATH")] = "out/eval"  # type: ignore[assignment]
    """Folder for metrics.csv, metrics.json, f1.png, gallery/ and index.html (locked while evaluating)."""


def run(args: Args) -> int:
    from inverse3d.cli.options import resolve_device
    from inverse3d.tasks.single_view import check_checkpoint_file, evaluate, print_table

    args.device = str(resolve_device(args.device))
    args.check()  # every option, before any work
    check_checkpoint_file(args.checkpoint)
    result = evaluate(args)
    name = f"{args.checkpoint}"
    print(print_table({name[-24:]: result.summary}, args.thresholds))
    print(f"{int(result.summary['n_shapes'])} {args.split} shapes in {result.seconds:.1f} s; "
          f"F1@0.05 = {result.summary.get('f1@0.05', float('nan')):.1f}")
    print(f"  report: {result.files['html']}")
    return 0


if __name__ == "__main__":  # python -m inverse3d.cli.eval
    raise SystemExit(run(tyro.cli(Args)))
