"""What a built-in multi-view scene is made of, independent of the renderer that draws it.

A ``SceneSpec`` lists triangle meshes in world coordinates (PyTorch3D's frame: +Y up), each with per-vertex colours or
a UV texture and a material, plus lights and a background. The rasteriser (``raster.py``, Phong shading) and the
path tracer (``pathtrace.py``, Mitsuba 3) both read this one description, so the two ends of the photorealism
spectrum draw exactly the same scene from exactly the same cameras.

Cameras are given the way the NeRF-synthetic ("Blender") layout stores them: 4x4 camera-to-world matrices in the
OpenGL convention (camera looks along its -Z, +Y up, +X right) and a horizontal field of view ``camera_angle_x``
in radians; ``conventions.py`` converts them to and from our cameras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

MaterialKind = Literal["diffuse", "glossy", "metal"]


@dataclass(frozen=True)
class Material:
    """How a part reflects light.

    kind: ``"diffuse"`` (Lambertian), ``"glossy"`` (a diffuse base under a clear coat: plastic, paint; highlights move
        with the viewpoint), ``"metal"`` (a rough conductor tinted by the part's colour).
    roughness: microfacet roughness (GGX alpha) for the path tracer, in (0, 1]; small is mirror-like.
    specular: strength of the Phong highlight in the rasteriser, in [0, 1].
    shininess: Phong exponent in the rasteriser; roughly ``2 / roughness**2 - 2``.
    """

    kind: MaterialKind = "diffuse"
    roughness: float = 0.5
    specular: float = 0.0
    shininess: float = 64.0


@dataclass
class ScenePart:
    """One triangle mesh of a scene.

    verts: (V, 3) float32, world coordinates.
    faces: (F, 3) int64 indices into ``verts``, counter-clockwise seen from outside (PyTorch3D's winding).
    colors: (V, 3) float32 in [0, 1], per-vertex base colour (used when ``texture`` is None, and as the fallback).
    uvs: (V, 2) float32 texture coordinates in [0, 1] (origin bottom-left, as in OBJ), or None.
    texture: (H, W, 3) float32 in [0, 1], row 0 at the top, or None.
    material: how the part reflects light.
    """

    name: str
    verts: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    material: Material = field(default_factory=Material)
    uvs: np.ndarray | None = None
    texture: np.ndarray | None = None


@dataclass(frozen=True)
class Light:
    """A light: a point (``radius == 0``, hard shadows) or a glowing sphere of ``radius`` (soft shadows).

    position: (3,) world coordinates. color: (3,) linear RGB intensity; the rasteriser uses it as the point light's
    diffuse colour, the path tracer as radiant intensity scaled so that both renderers are about equally bright.
    """

    position: tuple[float, float, float]
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    radius: float = 0.0


@dataclass(frozen=True)
class CameraLayout:
    """Where the views of a split are.

    kind: ``"sphere"`` (whole sphere around ``look_at``), ``"hemisphere"`` (upper half, as NeRF-synthetic's train
        views), ``"forward"`` (positions spread over a small patch on one side of the scene, all
        looking at ``look_at``, as LLFF's hand-held captures), ``"ring"`` (fixed ``elevation``, evenly spaced azimuths).
    radius: distance from ``look_at``. fov_x: horizontal field of view in degrees (``camera_angle_x`` in radians).
    """

    kind: Literal["sphere", "hemisphere", "forward", "ring"] = "hemisphere"
    radius: float = 4.0
    fov_x: float = 40.0
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    elevation: float = 30.0


@dataclass
class SceneSpec:
    """A whole scene: parts, lights, background, camera layout, and the ambient light level.

    background: (3,) RGB behind the scene in the path tracer's environment, or None for a transparent background
        (RGBA images whose alpha is coverage, as NeRF-synthetic's).
    bounds: ((3,), (3,)) axis-aligned box that holds every part, for near/far estimates and the normalised frame.
    """

    name: str
    parts: list[ScenePart]
    lights: list[Light]
    cameras: CameraLayout = field(default_factory=CameraLayout)
    ambient: float = 0.3
    background: tuple[float, float, float] | None = None

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        verts = np.concatenate([p.verts for p in self.parts], axis=0)
        return verts.min(axis=0), verts.max(axis=0)
