"""``inverse3d invert sds``: score distillation sampling (DreamFusion) with a local diffusion model: optimise an
image, a mesh's vertex colours or a NeRF so that it matches a text prompt.

Needs the optional ``sds`` extra (diffusers, transformers) and a local diffusers model folder (``--model-dir``, e.g.
Stable Diffusion 2.1 base); nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import tyro

from inverse3d.tasks.invert.sds_train import SDSConfig


@dataclass
class Args(SDSConfig):
    """Score distillation: optimise an image, a mesh's vertex colours or a NeRF from a text prompt with a local
    diffusers model (--model-dir); writes progress.gif, loss.png, the result (result.png | result.ply +
    turntable.gif | turntable.gif), checkpoint.pt and config.json into --out-dir. Continue with --resume."""


def run(args: Args) -> int:
    from inverse3d.cli.options import check_output_folder, resolve_device
    from inverse3d.tasks.invert.sds_train import run_sds
    from inverse3d.training import TrainingInterrupted

    args.device = str(resolve_device(args.device))
    check_output_folder(args.out_dir, "--out-dir")
    try:
        result = run_sds(args)
    except TrainingInterrupted as stop:
        if stop.path is not None:
            print(f"interrupted at step {stop.step}; checkpoint: {stop.path} (continue with --resume)")
        return 130
    last = result.losses[-1] if result.losses else float("nan")
    print(f"score distillation of a {args.target} from {args.prompt!r}: step {result.step} in "
          f"{result.seconds:.1f} s, last 0.5|grad|^2 {last:.4g}")
    for name, path in result.files.items():
        print(f"  {name}: {path}")
    return 0


if __name__ == "__main__":  # python -m inverse3d.cli.invert_sds (before it is mounted as inverse3d invert sds)
    import sys

    from inverse3d.cli.main import error_message

    try:
        status = run(tyro.cli(Args))
    except Exception as err:  # a user's mistake in one line, as the inverse3d command prints it
        message = error_message(err)
        if message is None:
            raise
        print(f"inverse3d: error: {message}", file=sys.stderr)
        status = 2
    raise SystemExit(status)
