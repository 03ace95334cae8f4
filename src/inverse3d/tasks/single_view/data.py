"""The built-in dataset of single-view training and evaluation, from a config's ``data_*`` fields."""

from __future__ import annotations

from typing import Any


def make_dataset(config: Any, split: str, return_mesh: bool = False, progress: bool = True):
    """The built-in ``ProceduralShapes`` split described by a training config (its ``data_*`` fields)."""
    from inverse3d.datasets.builtin import ProceduralShapes

    return ProceduralShapes(
        root=config.data_root,
        split=split,
        categories=tuple(config.categories),
        n_train=config.n_train,
        n_val=config.n_val,
        n_test=config.n_test,
        image_size=config.image_size,
        voxel_res=config.voxel_res,
        n_points=config.data_points,
        seed=config.data_seed,
        workers=config.workers,
        return_mesh=return_mesh,
        progress=progress,
    )
