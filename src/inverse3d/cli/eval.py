"""``inverse3d eval``: F1 / chamfer / IoU of a trained checkpoint on a split, with plots and a gallery."""

from __future__ import annotations

from dataclasses import dataclass

from inverse3d.engine.evaluate import EvalConfig


@dataclass
class Args(EvalConfig):
    """Evaluate a checkpoint of ``inverse3d train`` on a split of the dataset it was trained with: prints F1 at each
    threshold, chamfer and IoU, and writes metrics.csv, metrics.json, f1.png, a gallery of turntables and index.html
    into --out-dir."""


def run(args: Args) -> int:
    from inverse3d.engine.evaluate import evaluate, print_table

    result = evaluate(args)
    name = f"{args.checkpoint}"
    print(print_table({name[-24:]: result.summary}, args.thresholds))
    print(f"{int(result.summary['n_shapes'])} {args.split} shapes in {result.seconds:.1f} s; "
          f"F1@0.05 = {result.summary.get('f1@0.05', float('nan')):.1f}")
    print(f"  report: {result.files['html']}")
    return 0


if __name__ == "__main__":  # python -m inverse3d.cli.eval
    import tyro

    raise SystemExit(run(tyro.cli(Args)))
