"""Shaders: Fragments + Meshes -> images (PyTorch3D's shader classes).

A shader samples the meshes' textures at the fragments, lights them (Phong, Gouraud or flat) and blends the
K fragments of each pixel (hard: nearest only; soft: SoftRas aggregation). Every ``forward`` accepts
``cameras=``, ``lights=``, ``materials=`` and ``blend_params=`` keyword arguments that override the ones
given to the constructor for that call. Colour shaders return RGBA images (N, H, W, 4) with alpha = coverage.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..blending import BlendParams, _background, hard_rgb_blend, sigmoid_alpha_blend, softmax_rgb_blend
from ..lighting import PointLights
from ..materials import Materials
from .shading import flat_shading, gouraud_shading, phong_shading, phong_shading_vertex_colors
from .utils import interpolate_face_attributes


def _sample_texels(meshes: Any, fragments: Any) -> torch.Tensor:
    """(N, H, W, K, C) texture colour of each fragment (``Meshes.sample_textures``)."""
    textures = getattr(meshes, "textures", None)
    if textures is None:
        raise ValueError(
            "Meshes has no textures: pass textures=TexturesVertex(...) or TexturesUV(...) to Meshes to shade it"
        )
    return textures.sample_textures(fragments, faces_packed=meshes.faces_packed())


def _nearest_only(fragments: Any) -> Any:
    """The fragments cut to the nearest face per pixel (K = 1): all that hard blending reads."""
    if fragments.pix_to_face.shape[-1] == 1:
        return fragments
    fields = dict(
        pix_to_face=fragments.pix_to_face[..., :1],
        zbuf=fragments.zbuf[..., :1],
        bary_coords=fragments.bary_coords[..., :1, :],
        dists=None if fragments.dists is None else fragments.dists[..., :1],
    )
    if dataclasses.is_dataclass(fragments):
        return dataclasses.replace(fragments, **fields)
    return fragments._replace(**fields)  # a NamedTuple


class _Packing:
    """Where the non-empty fragments of a batch went when packed into fragments of shape (N, 1, P, 1).

    Fragment j of image n (flattened over H, W, K) that is non-empty goes to slot ``slot`` of row n; P is the
    largest number of non-empty fragments of an image and shorter rows are padded with empty fragments.
    """

    def __init__(self, fragments: Any) -> None:
        p2f = fragments.pix_to_face
        self.shape = tuple(p2f.shape)  # (N, H, W, K)
        self.N = p2f.shape[0]
        self.L = p2f[0].numel()  # fragments per image, H * W * K
        flat = (p2f >= 0).reshape(self.N, self.L)
        if p2f.device.type == "cpu":  # NumPy's flatnonzero is several times faster than torch.nonzero
            where = torch.from_numpy(np.flatnonzero(flat.numpy()))
            self.n_idx = torch.div(where, self.L, rounding_mode="floor") if self.N > 1 else torch.zeros_like(where)
            self.frag_idx = where - self.n_idx * self.L if self.N > 1 else where
        else:
            self.n_idx, self.frag_idx = flat.nonzero(as_tuple=True)  # (M,), sorted by image then fragment
        counts = flat.sum(dim=1)  # (N,)
        self.P = int(counts.max()) if self.N else 0
        first = torch.cumsum(counts, 0) - counts
        self.slot = torch.arange(self.n_idx.shape[0], device=p2f.device) - first.index_select(0, self.n_idx)  # (M,)
        self.fragments = self._pack_fragments(fragments)

    @property
    def empty(self) -> bool:
        return self.n_idx.numel() == 0

    def _pack(self, t: torch.Tensor, fill: float) -> torch.Tensor:
        """(N, H, W, K, ...) -> (N, 1, P, 1, ...), non-empty fragments only."""
        tail = t.shape[4:]
        src = t.reshape(self.N, self.L, *tail)
        if self.N == 1:
            return src[0].index_select(0, self.frag_idx).reshape(1, 1, self.P, 1, *tail)
        out = src.new_full((self.N, self.P, *tail), fill)
        out[self.n_idx, self.slot] = src[self.n_idx, self.frag_idx]
        return out.reshape(self.N, 1, self.P, 1, *tail)

    def _pack_fragments(self, fragments: Any) -> Any:
        fields = dict(
            pix_to_face=self._pack(fragments.pix_to_face, -1),
            zbuf=self._pack(fragments.zbuf, -1.0),
            bary_coords=self._pack(fragments.bary_coords, 0.0),
            dists=None if fragments.dists is None else self._pack(fragments.dists, -1.0),
        )
        if dataclasses.is_dataclass(fragments):
            return dataclasses.replace(fragments, **fields)
        return fragments._replace(**fields)  # a NamedTuple

    def unpack_cf(self, colors: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        """Packed colours (N, 1, P, 1, C) -> channels-first (C, N * L) with ``fill`` (C,) at empty fragments."""
        N, P, C = self.N, self.P, colors.shape[-1]
        cols = colors.reshape(N, P, C).permute(2, 0, 1)  # (C, N, P)
        if N == 1:
            src = cols.reshape(C, P)
        else:
            src = cols.reshape(C, N * P).index_select(1, self.n_idx * P + self.slot)  # (C, M)
        return fill[:, None].expand(C, N * self.L).index_copy(1, self.n_idx * self.L + self.frag_idx, src)


def _hard_shade(fragments: Any, blend_params: BlendParams, shade: Callable[[Any], torch.Tensor]) -> torch.Tensor:
    """Shades only the covered pixels' nearest fragments, then places them on the background.

    Equivalent to ``hard_rgb_blend(shade(fragments), fragments, blend_params)``, but the shading work (textures,
    interpolation, lighting) runs on the covered pixels only (see ``_Packing``).

    Args:
        fragments: rasteriser output with (N, H, W, K) fields.
        blend_params: supplies the background colour.
        shade: maps fragments (N, h, w, 1) to colours (N, h, w, 1, C).
    Returns:
        (N, H, W, C + 1) RGBA.
    """
    fragments = _nearest_only(fragments)
    N, H, W, _ = fragments.pix_to_face.shape
    packing = _Packing(fragments)
    if packing.empty:
        return hard_rgb_blend(shade(fragments), fragments, blend_params)
    colors = shade(packing.fragments)  # (N, 1, P, 1, C)
    C = colors.shape[-1]
    # Work channels first ((C, pixels) rows are fast to scatter), then lay the image out as (N, H, W, C + 1).
    rgb = packing.unpack_cf(colors, _background(blend_params, colors))  # (C, N*H*W)
    alpha = (fragments.pix_to_face >= 0).reshape(N * H * W)
    # Channel by channel into the interleaved image: several times faster than a transposing copy.
    image = rgb.new_empty((N * H * W, C + 1))
    for c in range(C):
        image[:, c] = rgb[c]
    image[:, C] = alpha
    return image.view(N, H, W, C + 1)


def _shade_nonempty(fragments: Any, shade: Callable[[Any], torch.Tensor]) -> torch.Tensor:
    """``shade(fragments)`` computed on the non-empty fragments only; empty ones get colour 0.

    Returns:
        (N, H, W, K, C) colours.
    """
    packing = _Packing(fragments)
    if packing.empty:
        return shade(fragments)
    colors = shade(packing.fragments)  # (N, 1, P, 1, C)
    C = colors.shape[-1]
    full = packing.unpack_cf(colors, colors.new_zeros(C))  # (C, N*H*W*K)
    return full.view(C, *packing.shape).permute(1, 2, 3, 4, 0)  # (N, H, W, K, C)


def _depth_range(cameras: Any, kwargs: dict) -> tuple[Any, Any]:
    """(znear, zfar) from kwargs, else the cameras' own, else PyTorch3D's defaults (1, 100)."""
    znear = kwargs.get("znear", getattr(cameras, "znear", 1.0))
    zfar = kwargs.get("zfar", getattr(cameras, "zfar", 100.0))
    return znear, zfar


class ShaderBase(nn.Module):
    """Holds the scene parameters shared by the shaders.

    Args:
        device: where the default lights and materials are created.
        cameras: cameras for the viewer position (may instead be given to ``forward``).
        lights: default ``PointLights(device=device)`` (at (0, 1, 0), ambient 0.5, diffuse 0.3, specular 0.2).
        materials: default ``Materials(device=device)`` (white, shininess 64).
        blend_params: default ``BlendParams()``.
    """

    def __init__(
        self,
        device: str | torch.device = "cpu",
        cameras: Any = None,
        lights: Any = None,
        materials: Any = None,
        blend_params: BlendParams | None = None,
    ) -> None:
        super().__init__()
        self.lights = lights if lights is not None else PointLights(device=device)
        self.materials = materials if materials is not None else Materials(device=device)
        self.cameras = cameras
        self.blend_params = blend_params if blend_params is not None else BlendParams()

    def _get_cameras(self, **kwargs: Any) -> Any:
        cameras = kwargs.get("cameras", self.cameras)
        if cameras is None:
            raise ValueError(
                "Cameras must be specified either at initialization or in the forward pass of the shader."
            )
        return cameras

    def _scene(self, **kwargs: Any) -> tuple[Any, Any, Any, BlendParams]:
        """(cameras, lights, materials, blend_params) for this call."""
        return (
            self._get_cameras(**kwargs),
            kwargs.get("lights", self.lights),
            kwargs.get("materials", self.materials),
            kwargs.get("blend_params", self.blend_params),
        )

    def to(self, device: Any, *args: Any, **kwargs: Any) -> "ShaderBase":  # type: ignore[override]
        """Moves cameras, lights and materials to ``device``; returns self."""
        if self.cameras is not None:
            self.cameras = self.cameras.to(device)
        self.lights = self.lights.to(device)
        self.materials = self.materials.to(device)
        return self


def _phong(meshes: Any, frags: Any, lights: Any, cameras: Any, materials: Any) -> torch.Tensor:
    """Phong shading of the fragments; vertex colours are interpolated along with positions and normals."""
    colors = phong_shading_vertex_colors(meshes, frags, lights, cameras, materials)
    if colors is not None:
        return colors
    return phong_shading(meshes, frags, lights, cameras, materials, _sample_texels(meshes, frags))


class HardPhongShader(ShaderBase):
    """Per-pixel Phong lighting of the textures, nearest face only. Returns RGBA (N, H, W, 4)."""

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        cameras, lights, materials, blend_params = self._scene(**kwargs)

        def shade(frags: Any) -> torch.Tensor:
            return _phong(meshes, frags, lights, cameras, materials)

        return _hard_shade(fragments, blend_params, shade)


class SoftPhongShader(ShaderBase):
    """Per-pixel Phong lighting of the textures, K faces blended with ``softmax_rgb_blend``. RGBA (N, H, W, 4).

    ``znear`` / ``zfar`` for the depth softmax come from kwargs, else the cameras, else (1, 100).
    """

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        cameras, lights, materials, blend_params = self._scene(**kwargs)

        def shade(frags: Any) -> torch.Tensor:
            return _phong(meshes, frags, lights, cameras, materials)

        colors = _shade_nonempty(fragments, shade)
        znear, zfar = _depth_range(cameras, kwargs)
        return softmax_rgb_blend(colors, fragments, blend_params, znear=znear, zfar=zfar)


class HardGouraudShader(ShaderBase):
    """Per-vertex lighting of ``TexturesVertex`` colours, nearest face only. Returns RGBA (N, H, W, 4)."""

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        cameras, lights, materials, blend_params = self._scene(**kwargs)
        return _hard_shade(
            fragments, blend_params, lambda frags: gouraud_shading(meshes, frags, lights, cameras, materials)
        )


class SoftGouraudShader(ShaderBase):
    """Per-vertex lighting of ``TexturesVertex`` colours, K faces blended with ``softmax_rgb_blend``."""

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        cameras, lights, materials, blend_params = self._scene(**kwargs)
        colors = _shade_nonempty(fragments, lambda frags: gouraud_shading(meshes, frags, lights, cameras, materials))
        znear, zfar = _depth_range(cameras, kwargs)
        return softmax_rgb_blend(colors, fragments, blend_params, znear=znear, zfar=zfar)


class HardFlatShader(ShaderBase):
    """Per-face lighting (face normal at the centroid) of the textures, nearest face only. RGBA (N, H, W, 4)."""

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        cameras, lights, materials, blend_params = self._scene(**kwargs)

        def shade(frags: Any) -> torch.Tensor:
            texels = _sample_texels(meshes, frags)
            return flat_shading(meshes, frags, lights, cameras, materials, texels)

        return _hard_shade(fragments, blend_params, shade)


class SoftSilhouetteShader(nn.Module):
    """Soft silhouette (SoftRas): RGBA (N, H, W, 4) whose alpha is 1 - prod_k(1 - sigmoid(-dists_k / sigma)).

    No lighting or texture; RGB is 1. Use with ``blur_radius = log(1 / 1e-4 - 1) * sigma`` and K > 1 faces
    per pixel so that pixels near (outside) the edges get a gradient.

    Args:
        blend_params: default ``BlendParams()`` (sigma 1e-4); ``forward(..., blend_params=)`` overrides it.
        device, cameras, lights, materials: accepted for a uniform constructor; unused.
    """

    def __init__(
        self,
        blend_params: BlendParams | None = None,
        device: str | torch.device = "cpu",
        cameras: Any = None,
        lights: Any = None,
        materials: Any = None,
    ) -> None:
        super().__init__()
        self.blend_params = blend_params if blend_params is not None else BlendParams()
        self.cameras = cameras

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        blend_params = kwargs.get("blend_params", self.blend_params)
        if fragments.dists is None:
            raise ValueError("SoftSilhouetteShader needs fragments.dists (the rasteriser's distances)")
        dtype = fragments.dists.dtype
        colors = torch.ones((*fragments.pix_to_face.shape, 3), dtype=dtype, device=fragments.dists.device)
        return sigmoid_alpha_blend(colors, fragments, blend_params)

    def to(self, device: Any, *args: Any, **kwargs: Any) -> "SoftSilhouetteShader":  # type: ignore[override]
        if self.cameras is not None:
            self.cameras = self.cameras.to(device)
        return self


def _zfar_map(cameras: Any, kwargs: dict, like: torch.Tensor) -> torch.Tensor:
    """``zfar`` (from kwargs, else the cameras, else 100) shaped to broadcast against (N, H, W, 1) maps."""
    _, zfar = _depth_range(cameras, kwargs)
    if torch.is_tensor(zfar):
        return zfar.to(device=like.device, dtype=like.dtype).reshape(-1, 1, 1, 1)
    return torch.as_tensor(zfar, dtype=like.dtype, device=like.device)


class HardDepthShader(ShaderBase):
    """Depth map: view-space depth of the nearest face, (N, H, W, 1); empty pixels get ``zfar``
    (from kwargs, else the cameras, else 100). Needs cameras, as in PyTorch3D."""

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        cameras = self._get_cameras(**kwargs)
        zbuf = fragments.zbuf[..., :1]  # (N, H, W, 1)
        background = _zfar_map(cameras, kwargs, zbuf)
        return torch.where(fragments.pix_to_face[..., :1] < 0, background, zbuf)


class SoftDepthShader(ShaderBase):
    """Soft depth map (N, H, W, 1): the K fragments' depths and ``zfar`` weighted front to back.

    Fragment k has coverage p_k = sigmoid(-dists_k / sigma) (0 where empty); walking front to back, it takes the
    share of the remaining weight that its coverage allows, min(1, p_0 + ... + p_k) - min(1, p_0 + ... + p_k-1),
    and ``zfar`` (from kwargs, else the cameras, else 100) gets what is left. sigma comes from ``blend_params``.
    Needs cameras and ``fragments.dists``, as in PyTorch3D.
    """

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        if fragments.dists is None:
            raise ValueError("SoftDepthShader requires Fragments.dists to be present.")
        cameras = self._get_cameras(**kwargs)
        blend_params = kwargs.get("blend_params", self.blend_params)
        zbuf = fragments.zbuf
        dtype = torch.promote_types(zbuf.dtype, torch.get_default_dtype())
        mask = fragments.pix_to_face >= 0  # (N, H, W, K)
        prob = torch.sigmoid(-fragments.dists.to(dtype) / blend_params.sigma) * mask  # (N, H, W, K)
        ones = torch.ones_like(prob[..., :1])
        depths = torch.cat([zbuf.to(dtype), _zfar_map(cameras, kwargs, ones).expand_as(ones)], dim=-1)
        covered = torch.cat([prob, ones], dim=-1).cumsum(dim=-1).clamp(max=1.0)  # (N, H, W, K + 1)
        share = torch.diff(covered, dim=-1, prepend=torch.zeros_like(ones))
        return (share * depths).sum(dim=-1, keepdim=True)


def TexturedSoftPhongShader(  # noqa: N802 (PyTorch3D's name)
    device: str | torch.device = "cpu",
    cameras: Any = None,
    lights: Any = None,
    materials: Any = None,
    blend_params: BlendParams | None = None,
) -> "SoftPhongShader":
    """Deprecated alias kept by PyTorch3D: returns ``SoftPhongShader(...)`` with a ``PendingDeprecationWarning``."""
    warnings.warn(
        "TexturedSoftPhongShader is now deprecated;\n            use SoftPhongShader instead.",
        PendingDeprecationWarning,
        stacklevel=2,
    )
    return SoftPhongShader(device=device, cameras=cameras, lights=lights, materials=materials,
                           blend_params=blend_params)


class SplatterPhongShader(ShaderBase):
    """Per-pixel Phong lighting blended by splatting (PyTorch3D's ``SplatterPhongShader``, Cole et al. 2021).

    Colours are lit with the fragments' barycentrics detached; each fragment's surface point, interpolated from
    its face's vertices with those detached barycentrics, is projected by the cameras and splatted onto the 3 x 3
    pixels around it (see ``inverse3d.renderer.splatter_blend``). Gradients reach the vertex positions through
    those points, so the rasteriser need not be differentiable. Use ``BlendParams(sigma=0.5)``: sigma is the
    splat's standard deviation in pixels (other values warn, as in PyTorch3D). Returns RGBA (N, H, W, 4).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.splatter_blender = None
        super().__init__(**kwargs)

    def to(self, device: Any, *args: Any, **kwargs: Any) -> "SplatterPhongShader":  # type: ignore[override]
        if self.splatter_blender is not None:
            self.splatter_blender.to(device)
        return super().to(device)

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        from ..splatter_blend import SplatterBlender

        cameras, lights, materials, blend_params = self._scene(**kwargs)
        texels = _sample_texels(meshes, fragments)
        detached = fragments.detach()
        colors = phong_shading(meshes, detached, lights, cameras, materials, texels)  # (N, H, W, K, C)
        face_verts = meshes.verts_packed()[meshes.faces_packed()]  # (F, 3, 3)
        points = interpolate_face_attributes(detached.pix_to_face, detached.bary_coords, face_verts)
        if self.splatter_blender is None or self.splatter_blender.input_shape != tuple(colors.shape[:4]):
            self.splatter_blender = SplatterBlender(tuple(colors.shape[:4]), colors.device)
        self.check_blend_params(blend_params)
        return self.splatter_blender(colors, points, cameras, fragments.pix_to_face < 0, blend_params)

    def check_blend_params(self, blend_params: BlendParams) -> None:
        """Warns when sigma (the splat's standard deviation, in pixels) is not 0.5."""
        if blend_params.sigma != 0.5:
            warnings.warn(
                f"SplatterPhongShader received sigma={blend_params.sigma}. sigma is defined in pixel units, and any "
                "value other than 0.5 is highly unexpected. Only use other values if you know what you are doing. "
            )


class HardNormalShader(ShaderBase):
    """Normal map: the interpolated world-space vertex normal of the nearest face, mapped from [-1, 1] to RGB
    in [0, 1] as (n + 1) / 2. Returns RGBA (N, H, W, 4); empty pixels get the background colour, alpha 0."""

    def forward(self, fragments: Any, meshes: Any, **kwargs: Any) -> torch.Tensor:
        blend_params = kwargs.get("blend_params", self.blend_params)
        normals = meshes.verts_normals_packed()[meshes.faces_packed()]  # (F, 3, 3)

        def shade(frags: Any) -> torch.Tensor:
            pixel_normals = interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, normals)
            pixel_normals = torch.nn.functional.normalize(pixel_normals, dim=-1, eps=1e-6)
            return (pixel_normals + 1.0) * 0.5

        return _hard_shade(fragments, blend_params, shade)
