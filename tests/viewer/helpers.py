"""Helpers of the viewer tests: Chromium, small shapes, a hand-written 3DGS file, tiny NeRF options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from viz.browser import chromium  # noqa: F401  (the tour's page test finds Debian chromium so)


def sphere(level: int = 1):
    from inverse3d.utils import ico_sphere

    m = ico_sphere(level)
    return m.verts_list()[0], m.faces_list()[0]


GAUSSIAN_NAMES = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1",
                  "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]


def write_gaussians(path: Path, rng, n: int = 20) -> np.ndarray:
    """A binary 3DGS PLY of ``n`` random Gaussians (degree 0), written by hand; returns its (n, 17) table."""
    table = rng.normal(size=(n, len(GAUSSIAN_NAMES))).astype("<f4")
    table[:, 10:13] = np.log(rng.uniform(0.02, 0.2, size=(n, 3)))
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property float {k}" for k in GAUSSIAN_NAMES] + ["end_header"]
    path.write_bytes(("\n".join(header) + "\n").encode() + table.tobytes())
    return table


def nerf_config(scene: Path, out: Path, iterations: int = 3, **kw):
    from inverse3d.tasks.nerf.train import NeRFTrainConfig

    return NeRFTrainConfig(scene=str(scene), out_dir=str(out), image_size=16, iterations=iterations,
                           rays_per_step=128, n_samples=12, hash_log2_size=10, hash_levels=4, hash_finest=32,
                           occupancy_resolution=8, progress=False, device="cpu", overwrite=True, **kw)
