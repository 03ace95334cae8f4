"""Types shared by the readers and writers (PyTorch3D's ``io.utils``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

PathOrStr = Union[Path, str]


def local_path(path: Any, path_manager: Any = None) -> Any:
    """``path`` as a local file name where a PyTorch3D-style path manager can give one, else unchanged.

    iopath's ``PathManager.get_local_path`` maps URLs and other managed names to a local copy; for plain paths it
    returns them as they are. Objects without that method, and file objects, are passed through.
    """
    if path_manager is not None and isinstance(path, (str, os.PathLike)) and hasattr(path_manager, "get_local_path"):
        return path_manager.get_local_path(os.fspath(path))
    return path
