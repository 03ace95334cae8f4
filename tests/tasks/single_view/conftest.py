"""A tiny built-in dataset shared by the single-view tests: 4 training chairs, 32 px images, 8^3 voxels."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_DATA = dict(n_train=4, n_val=1, n_test=2, image_size=32, voxel_res=8, data_points=128)
TINY_MODEL = dict(n_points=32, ico_level=1, n_queries=32, batch_size=2)


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory) -> Path:
    """Cache folder holding the tiny train and test splits (generated once per session)."""
    from inverse3d.tasks.single_view.data import make_dataset
    from inverse3d.tasks.single_view.train import TrainConfig

    root = tmp_path_factory.mktemp("procedural")
    config = TrainConfig(data_root=root, **TINY_DATA)
    for split in ("train", "test"):
        make_dataset(config, split, progress=False)
    return root


@pytest.fixture
def tiny_config(tiny_data_root, tmp_path):
    """Factory of TrainConfigs on the tiny data writing into tmp_path/<name>."""
    from inverse3d.tasks.single_view.train import TrainConfig

    def make(name: str = "run", **kw) -> TrainConfig:
        opts = dict(data_root=tiny_data_root, out_dir=tmp_path / name, progress=False, checkpoint_every=1000,
                    **TINY_DATA, **TINY_MODEL)
        opts.update(kw)
        return TrainConfig(**opts)

    return make
