"""Small files of every kind ``inverse3d view`` opens, written once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from .helpers import nerf_config, sphere, write_gaussians


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> dict[str, Path]:
    """name -> file: a textured OBJ, a vertex-coloured PLY mesh, point clouds (PLY, NPZ), voxel grids (NPZ, PT),
    a 3DGS PLY and a tiny scene folder."""
    from inverse3d.datasets.scenes import make_scene
    from inverse3d.io import save_obj, save_ply

    d = tmp_path_factory.mktemp("view")
    v, f = sphere(1)
    uv = torch.stack([0.5 + torch.atan2(v[:, 0], v[:, 2]) / (2 * np.pi),
                      0.5 + torch.asin(v[:, 1].clamp(-1, 1)) / np.pi], 1)
    tex = torch.zeros(8, 8, 3)
    tex[::2, :, 0] = 1
    tex[1::2, :, 2] = 1
    save_obj(d / "tex.obj", v, f, verts_uvs=uv, faces_uvs=f, texture_map=tex)
    save_ply(d / "col.ply", v, f, colors=(v + 1) / 2)
    save_ply(d / "pts.ply", v, colors=(v + 1) / 2)
    rng = np.random.default_rng(0)
    np.savez(d / "pts.npz", points=rng.random((50, 3), dtype=np.float32), colors=rng.random((50, 3)))
    vox = np.zeros((6, 6, 6), np.float32)
    vox[1:4, 2:5, 1:5] = 1.0
    np.savez(d / "vox.npz", voxels=vox, bounds=np.array([[-1, -1, -1], [1, 1, 1]], np.float32))
    torch.save(torch.from_numpy(vox), d / "vox.pt")
    write_gaussians(d / "splat.ply", rng)
    make_scene("box", d / "box", image_size=16, n_train=3, n_val=1, n_test=1, progress=False, n_points=100)
    return {p.name: p for p in d.iterdir()}


@pytest.fixture(scope="session")
def nerf_checkpoint(files, tmp_path_factory) -> Path:
    """A 3-step hash-grid NeRF checkpoint of the box scene."""
    from inverse3d.tasks.nerf.train import train

    out = tmp_path_factory.mktemp("nerf")
    train(nerf_config(files["box"], out))
    return out / "checkpoint.pt"
