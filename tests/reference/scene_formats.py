"""Small scenes for the reader tests: a coloured ico-sphere rendered by our rasteriser from a few cameras.

Nothing is downloaded: each test writes the files of its format itself with the writers under test.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from inverse3d.datasets.scenes.conventions import cameras_from_c2w
from inverse3d.renderer import (
    AmbientLights,
    BlendParams,
    HardPhongShader,
    MeshRasterizer,
    MeshRenderer,
    RasterizationSettings,
    TexturesVertex,
)
from inverse3d.structures import Meshes
from inverse3d.utils import ico_sphere

HEIGHT, WIDTH = 32, 48


def look_at_c2w(eye, at=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """(4, 4) OpenGL camera-to-world of a camera at ``eye`` looking at ``at`` (float64)."""
    eye, at, up = (np.asarray(v, dtype=np.float64) for v in (eye, at, up))
    back = eye - at
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, true_up, back, eye
    return m


def orbit_c2w(n: int = 4, radius: float = 3.0, elevation: float = 20.0, forward: bool = False) -> np.ndarray:
    """(n, 4, 4) OpenGL poses around the origin (``forward``: spread over a small patch in front, on +Z)."""
    poses = []
    for i in range(n):
        if forward:
            eye = (0.4 * math.cos(2 * math.pi * i / n), 0.3 * math.sin(2 * math.pi * i / n), radius)
        else:
            az = 2 * math.pi * i / n + 0.3
            el = math.radians(elevation + 10 * (i % 2))
            eye = (radius * math.cos(el) * math.sin(az), radius * math.sin(el), radius * math.cos(el) * math.cos(az))
        poses.append(look_at_c2w(eye))
    return np.stack(poses)


def coloured_sphere() -> Meshes:
    mesh = ico_sphere(2)
    verts = mesh.verts_packed()
    colours = (verts * 0.5 + 0.5).clamp(0, 1)  # a colour per direction, so every view differs
    return Meshes(verts=[verts], faces=[mesh.faces_packed()], textures=TexturesVertex([colours]))


def render(cameras, height: int = HEIGHT, width: int = WIDTH) -> torch.Tensor:
    """(N, H, W, 4) RGBA renders of the coloured sphere (ambient light only: the vertex colours), alpha = coverage."""
    n = len(cameras)
    meshes = coloured_sphere().extend(n)
    renderer = MeshRenderer(
        MeshRasterizer(cameras=cameras, raster_settings=RasterizationSettings(image_size=(height, width))),
        HardPhongShader(cameras=cameras, lights=AmbientLights(), blend_params=BlendParams(background_color=(0, 0, 0))),
    )
    with torch.no_grad():
        return renderer(meshes).clamp(0, 1)


def make_cameras(c2w: np.ndarray, fx, fy, cx, cy, width: int = WIDTH, height: int = HEIGHT):
    return cameras_from_c2w(torch.as_tensor(c2w, dtype=torch.float32), fx, fy, cx, cy, width, height)


def scene(n: int = 4, square_pixels: bool = False, centred: bool = False, forward: bool = False):
    """(cameras, images (N, H, W, 4)) of the sphere: non-square intrinsics (fx != fy) and an off-centre principal
    point unless ``square_pixels`` / ``centred``."""
    c2w = orbit_c2w(n, forward=forward)
    fx = 40.0
    fy = fx if square_pixels else 44.0
    cx, cy = (WIDTH / 2, HEIGHT / 2) if centred else (WIDTH / 2 + 2.3, HEIGHT / 2 - 1.7)
    cameras = make_cameras(c2w, fx, fy, cx, cy)
    return cameras, render(cameras)
