"""Shared fixtures: the course's cow (skipped cleanly without ../shared) and the devices to test on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests are parametrised over these; CUDA joins only where a GPU is present.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture
def cow_dir() -> Path:
    """Folder with cow.obj, cow.mtl and cow_texture.png from ../shared/data/cow; skips without it."""
    path = SHARED_DATA / "cow"
    if not (path / "cow.obj").is_file():
        pytest.skip("../shared/data/cow is absent")
    return path


@pytest.fixture
def cow_obj(cow_dir: Path) -> Path:
    return cow_dir / "cow.obj"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
