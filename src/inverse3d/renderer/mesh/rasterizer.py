"""Mesh rasterisation stage: cameras + meshes -> Fragments (PyTorch3D's ``MeshRasterizer``).

``MeshRasterizer`` moves the meshes' vertices from world space to NDC (x, y) while keeping the view-space depth
as z, then calls :func:`inverse3d.renderer.mesh.rasterize_meshes.rasterize_meshes`. The result is a
:class:`Fragments`, which the shaders read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

import torch
from torch import nn

from .rasterize_meshes import rasterize_meshes


@dataclass(frozen=True)
class Fragments:
    """What the rasteriser found at each pixel: the K nearest faces and where on them the pixel falls.

    Attributes:
        pix_to_face: (N, H, W, K) long, packed face index of the k-th nearest face at each pixel, -1 where empty.
        zbuf: (N, H, W, K) float, view-space depth of that face at the pixel, -1 where empty.
        bary_coords: (N, H, W, K, 3) float, barycentric coordinates of the pixel centre in that face
            (perspective-correct unless turned off), -1 where empty.
        dists: (N, H, W, K) float, signed squared distance in NDC from the pixel centre to the face's nearest
            edge (negative inside the face), -1 where empty.
    """

    pix_to_face: torch.Tensor
    zbuf: torch.Tensor
    bary_coords: torch.Tensor
    dists: Optional[torch.Tensor]

    def detach(self) -> "Fragments":
        """A copy whose tensors are cut from the autograd graph."""
        return Fragments(
            pix_to_face=self.pix_to_face,
            zbuf=self.zbuf.detach(),
            bary_coords=self.bary_coords.detach(),
            dists=self.dists.detach() if self.dists is not None else None,
        )


@dataclass
class RasterizationSettings:
    """Options of the mesh rasteriser (PyTorch3D's names and defaults).

    Attributes:
        image_size: output size, an int for square images or (H, W).
        blur_radius: faces whose squared NDC distance to a pixel centre is at most this value also cover the
            pixel (0 for hard edges; SoftRas uses ``log(1 / 1e-4 - 1) * sigma``).
        faces_per_pixel: K, how many nearest faces to keep per pixel.
        bin_size: PyTorch3D's coarse-to-fine bin size in pixels (None: its heuristic, 0: no bins). It never
            changes the result here, but a bin_size giving 22 or more bins along the longer image side is
            rejected when rasterising, with PyTorch3D's error.
        max_faces_per_bin: accepted for PyTorch3D compatibility; ignored (no face is ever dropped).
        perspective_correct: perspective-correct barycentrics; None follows ``cameras.is_perspective()``.
        clip_barycentric_coords: clip barycentrics to [0, 1] and renormalise; None turns it on when
            ``blur_radius > 0``.
        cull_backfaces: drop faces whose front (counter-clockwise in the image) does not face the camera.
        z_clip_value: faces are clipped against the plane z = z_clip_value in view space; None picks
            ``znear / 2`` for perspective cameras.
        cull_to_frustum: drop faces entirely outside the view frustum.
    """

    image_size: Union[int, Tuple[int, int]] = 256
    blur_radius: float = 0.0
    faces_per_pixel: int = 1
    bin_size: Optional[int] = None
    max_faces_per_bin: Optional[int] = None
    perspective_correct: Optional[bool] = None
    clip_barycentric_coords: Optional[bool] = None
    cull_backfaces: bool = False
    z_clip_value: Optional[float] = None
    cull_to_frustum: bool = False

    def __post_init__(self) -> None:
        """Checks the values: TypeError / ValueError naming the field (e.g. ``image_size=8.5``)."""
        from inverse3d.renderer.utils import check_count, check_image_size, check_nonnegative

        check_image_size(self.image_size)
        check_nonnegative(self.blur_radius, "blur_radius")
        check_count(self.faces_per_pixel, "faces_per_pixel")
        check_count(self.bin_size, "bin_size", minimum=0, optional=True)
        check_count(self.max_faces_per_bin, "max_faces_per_bin", minimum=0, optional=True)
        if self.z_clip_value is not None and not (
                isinstance(self.z_clip_value, (int, float)) and math.isfinite(self.z_clip_value)):
            raise ValueError(f"z_clip_value must be None or a finite number; got {self.z_clip_value!r}")


_NOT_CAMERA_KWARGS = ("cameras", "raster_settings", "eps")


class MeshRasterizer(nn.Module):
    """Rasterises a batch of meshes seen by a batch of cameras into :class:`Fragments`.

    Args:
        cameras: a cameras object (e.g. ``FoVPerspectiveCameras``) with 1 or N cameras; may instead be given to
            ``forward`` as ``cameras=``.
        raster_settings: a :class:`RasterizationSettings`; defaults to ``RasterizationSettings()``.
    """

    def __init__(self, cameras: Any = None, raster_settings: Optional[RasterizationSettings] = None) -> None:
        super().__init__()
        if raster_settings is None:
            raster_settings = RasterizationSettings()
        self.cameras = cameras
        self.raster_settings = raster_settings

    def to(self, device: Union[str, torch.device], *args: Any, **kwargs: Any) -> "MeshRasterizer":
        """Moves the cameras to ``device``; returns self."""
        if self.cameras is not None:
            self.cameras = self.cameras.to(device)
        return self

    def transform(self, meshes_world: Any, **kwargs: Any) -> Any:
        """Meshes with vertices in NDC (x, y) and view-space depth (z).

        Args:
            meshes_world: Meshes, vertices (N, V, 3) in world coordinates.
            **kwargs: may hold ``cameras=`` and camera parameters (``R=``, ``T=``, ...) that override the
                cameras' own, and ``eps=`` passed on to ``transform_points``.

        Returns:
            Meshes of the same topology whose padded vertices are (N, V, 3): NDC x, NDC y, view-space z.
        """
        cameras = kwargs.get("cameras", self.cameras)
        if cameras is None:
            raise ValueError("Cameras must be specified either at initialization or in the forward pass of "
                             "MeshRasterizer (pass cameras= to __init__ or to forward)")
        if len(meshes_world) == 0:
            raise ValueError("MeshRasterizer: the Meshes batch is empty (0 meshes); pass at least one mesh "
                             "(a mesh without faces renders as background)")
        n_cameras = len(cameras)
        if n_cameras != 1 and n_cameras != len(meshes_world):
            raise ValueError(f"got {n_cameras} cameras for {len(meshes_world)} meshes; need 1 or one per mesh")
        eps = kwargs.get("eps", None)
        cam_kwargs = {k: v for k, v in kwargs.items() if k not in _NOT_CAMERA_KWARGS}

        verts_world = meshes_world.verts_padded()  # (N, V, 3)
        verts_view = cameras.get_world_to_view_transform(**cam_kwargs).transform_points(verts_world, eps=eps)
        to_ndc = cameras.get_ndc_camera_transform(**cam_kwargs) if hasattr(cameras, "get_ndc_camera_transform") else None
        try:
            projection = cameras.get_projection_transform(**cam_kwargs)
        except NotImplementedError:
            projection = None
        if projection is not None:
            if to_ndc is not None:
                projection = projection.compose(to_ndc)
            verts_ndc = projection.transform_points(verts_view, eps=eps)  # (N, V, 3)
        else:  # a camera with no matrix form of its projection
            verts_ndc = cameras.transform_points(verts_world, eps=eps)
            if to_ndc is not None:
                verts_ndc = to_ndc.transform_points(verts_ndc, eps=eps)
        verts_ndc = torch.cat([verts_ndc[..., :2], verts_view[..., 2:3]], dim=-1)  # keep view-space depth
        return meshes_world.update_padded(new_verts_padded=verts_ndc)

    def forward(self, meshes_world: Any, **kwargs: Any) -> Fragments:
        """Rasterises ``meshes_world``.

        Args:
            meshes_world: Meshes (N meshes, world coordinates).
            **kwargs: may override ``cameras=`` and ``raster_settings=``, and camera parameters (``R=``, ``T=``).

        Returns:
            Fragments with (N, H, W, K) tensors, K = ``raster_settings.faces_per_pixel``.
        """
        meshes_proj = self.transform(meshes_world, **kwargs)
        raster_settings = kwargs.get("raster_settings", self.raster_settings)
        cameras = kwargs.get("cameras", self.cameras)

        clip_barycentric_coords = raster_settings.clip_barycentric_coords
        if clip_barycentric_coords is None:
            clip_barycentric_coords = raster_settings.blur_radius > 0.0

        if raster_settings.perspective_correct is not None:
            perspective_correct = raster_settings.perspective_correct
        else:
            perspective_correct = bool(cameras.is_perspective())

        if raster_settings.z_clip_value is not None:
            z_clip = raster_settings.z_clip_value
        else:
            znear = cameras.get_znear() if hasattr(cameras, "get_znear") else None
            if isinstance(znear, torch.Tensor):
                znear = znear.min().item()
            z_clip = None if not perspective_correct or znear is None else znear / 2

        pix_to_face, zbuf, bary_coords, dists = rasterize_meshes(
            meshes_proj,
            image_size=raster_settings.image_size,
            blur_radius=raster_settings.blur_radius,
            faces_per_pixel=raster_settings.faces_per_pixel,
            bin_size=raster_settings.bin_size,
            max_faces_per_bin=raster_settings.max_faces_per_bin,
            perspective_correct=perspective_correct,
            clip_barycentric_coords=clip_barycentric_coords,
            cull_backfaces=raster_settings.cull_backfaces,
            z_clip_value=z_clip,
            cull_to_frustum=raster_settings.cull_to_frustum,
        )
        return Fragments(pix_to_face=pix_to_face, zbuf=zbuf, bary_coords=bary_coords, dists=dists)

