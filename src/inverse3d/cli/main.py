"""Entry point of the ``inverse3d`` command: a tyro subcommand per module of this package.

Each command module defines a dataclass ``Args`` (its options, each documented by the docstring under it) and
``run(args: Args)``. ``inverse3d --help`` lists the commands; ``inverse3d CMD --help`` documents every option.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

# name -> module under inverse3d.cli. Order is the order in --help.
COMMANDS: dict[str, str] = {
    "tour": "tour",
    "info": "info",
    "render": "render",
    "fit": "fit",
    "train": "train",
    "eval": "eval",
}


def _load() -> dict[str, object]:
    return {name: importlib.import_module(f"inverse3d.cli.{module}") for name, module in COMMANDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Parses ``argv`` (default: sys.argv[1:]), runs the chosen command and returns its exit status."""
    import tyro

    modules = _load()
    by_type = {mod.Args: mod for mod in modules.values()}
    args = tyro.extras.subcommand_cli_from_dict(
        {name: mod.Args for name, mod in modules.items()},
        prog="inverse3d",
        description="inverse3d: learning 3D vision through inverse graphics, in pure PyTorch.",
        args=argv,
    )
    result = by_type[type(args)].run(args)
    return int(result or 0)


def entrypoint() -> None:
    """Console script: errors a user can fix are printed in one line, not as a traceback."""
    from inverse3d.io.errors import MeshFileError

    try:
        sys.exit(main())
    except (MeshFileError, FileNotFoundError, ValueError) as err:
        print(f"inverse3d: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("inverse3d: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    entrypoint()
