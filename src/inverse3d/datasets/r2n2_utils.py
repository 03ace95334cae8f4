"""PyTorch3D's R2N2 helpers: ``BlenderCamera``, ``collate_batched_R2N2`` and ``render_cubified_voxels``."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch

from inverse3d.renderer.cameras import CamerasBase
from inverse3d.transforms import Transform3d

CUBIFY_THRESH = 0.2  # voxel occupancy above which render_cubified_voxels draws a cube (PyTorch3D's value)


class BlenderCamera(CamerasBase):
    """A camera given by R2N2's (Blender's) calibration: pose R, T and a full projection matrix K.

    Args:
        R: (N, 3, 3) rotation, T: (N, 3) translation (``X_view = X_world @ R + T``); identity / zero by default.
        K: (N, 4, 4) view -> NDC projection in column-vector layout (applied as ``K @ [x, y, z, 1]``), identity
            by default.
    ``transform_points`` returns NDC; the camera reports ``is_perspective() == False`` as PyTorch3D's does.
    """

    _FIELDS = ("K", "R", "T")

    def __init__(self, R: Any = None, T: Any = None, K: Any = None, device="cpu") -> None:
        R = torch.eye(3)[None] if R is None else torch.as_tensor(R, dtype=torch.float32)
        T = torch.zeros(1, 3) if T is None else torch.as_tensor(T, dtype=torch.float32)
        K = torch.eye(4)[None] if K is None else torch.as_tensor(K, dtype=torch.float32)
        super().__init__(device=device, R=R, T=T, K=K)
        self._check_pose()

    def get_projection_transform(self, **kwargs: Any) -> Transform3d:
        return Transform3d(matrix=self.K.transpose(1, 2).contiguous(), device=self.device)

    def is_perspective(self) -> bool:
        return False

    def in_ndc(self) -> bool:
        return True


def _stack_if_same(collated: dict[str, Any], key: str, what: str) -> None:
    values = collated[key]
    if all(torch.is_tensor(v) for v in values) and all(v.shape == values[0].shape for v in values):
        collated[key] = torch.stack(values)
    else:
        warnings.warn(f"collate_batched_R2N2: models have different numbers of views; returning lists of {what}",
                      stacklevel=3)


def collate_batched_R2N2(batch: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """``collate_batched_meshes``, then ``images``, ``voxels`` and (when all three are present) ``R``, ``T``, ``K``
    are stacked along a new first dim where every item's tensor has the same shape (else left as lists, with a
    warning). For PyTorch3D's R2N2 items of V views: images (N, V, H, W, 3), R (N, V, 3, 3), T (N, V, 3),
    K (N, V, 4, 4), voxels (N, V, S, S, S); for ``inverse3d.datasets.R2N2`` items (one view each) the same without V.
    """
    from inverse3d.datasets.utils import collate_batched_meshes

    collated = collate_batched_meshes(batch)
    if collated is None:
        return None
    if "images" in collated:
        _stack_if_same(collated, "images", "images")
    if all(k in collated for k in ("R", "T", "K")):
        for key in ("R", "T", "K"):
            _stack_if_same(collated, key, "calibration matrices")
    if "voxels" in collated:
        _stack_if_same(collated, "voxels", "voxels")
    return collated


def render_cubified_voxels(voxels: torch.Tensor, shader_type=None, device="cpu", **kwargs: Any) -> torch.Tensor:
    """Cubifies (``inverse3d.ops.cubify``, threshold 0.2) and renders voxel grids, white, with a ``BlenderCamera``.

    Args:
        voxels: (N, D, H, W) float occupancies.
        shader_type: a shader class (default ``HardPhongShader``).
        device: where to render.
        **kwargs: ``raster_settings`` (default ``RasterizationSettings()``), ``lights`` (default ``PointLights()``).
    Returns:
        (N, H_img, W_img, 4) float images.
    """
    from inverse3d.ops import cubify
    from inverse3d.renderer import (HardPhongShader, MeshRasterizer, MeshRenderer, PointLights,
                                    RasterizationSettings, TexturesVertex)

    shader_type = HardPhongShader if shader_type is None else shader_type
    meshes = cubify(voxels, CUBIFY_THRESH).to(device)
    meshes.textures = TexturesVertex(verts_features=torch.ones_like(meshes.verts_padded()))
    cameras = BlenderCamera(device=device)
    renderer = MeshRenderer(
        rasterizer=MeshRasterizer(cameras=cameras, raster_settings=kwargs.get("raster_settings",
                                                                             RasterizationSettings())),
        shader=shader_type(device=device, cameras=cameras, lights=kwargs.get("lights", PointLights()).to(device)),
    )
    return renderer(meshes)
