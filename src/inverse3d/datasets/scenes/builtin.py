"""The built-in multi-view scenes, each a function of a seed returning a ``SceneSpec``, and their registry.

- ``"lego"``: a toy bulldozer of about 70 parts (tracks with tread textures, studded body, an open cabin of thin
  pillars, a curved blade on thin arms, a ripper, an exhaust pipe) in about [-1.4, 1.4]^3, the stand-in for
  NeRF-synthetic's lego: thin structures, concave regions, textures. Cameras on the upper hemisphere at radius 4 with
  NeRF-synthetic's ``camera_angle_x`` (0.6911 rad).
- ``"materials"``: matte, glossy (two roughnesses) and metal spheres, a metal torus and a glossy cube on a checkered
  base: specular highlights that move with the viewpoint.
- ``"box"``: the course's box, centre ``BOX_CENTER`` and sides ``BOX_SIDES``, coloured by the course's "rainbow"
  scheme (``box_color``); ``make_scene`` renders it by volume rendering of its SDF (``sdf_box.py``), from 4 training
  views by default.
- ``"forward"``: a house, trees, a crate, a glossy ball and a tower on a ground plane under a sky colour, seen by
  forward-facing cameras (``CameraLayout(kind="forward")``), as LLFF's captures: opaque images, no alpha.

World coordinates are PyTorch3D's (+Y up). A part whose faces should look flat (boxes, prisms) is built with its own
three vertices per face, so that vertex normals equal face normals; smooth parts (spheres, cylinder sides, the torus)
share vertices. Textured parts carry UVs and a small procedural texture, and their per-vertex colours are the texture
sampled at the vertices (what ``mesh.ply`` stores).

The same seed gives the same scene; other seeds jitter colours, sizes and placements a little (the scene's character
and bounds stay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from inverse3d.datasets.scenes.spec import CameraLayout, Light, Material, SceneSpec, ScenePart

# NeRF-synthetic's horizontal field of view (its transforms_*.json ``camera_angle_x``), in radians.
NERF_SYNTHETIC_CAMERA_ANGLE_X = 0.6911112070083618
BOX_CENTER = (0.25, 0.25, 0.0)
BOX_SIDES = (2.0, 1.5, 1.5)
BOX_BETA = 0.01  # Laplace scale of the box's volume density (``sdf_box.py``), world units

MATTE = Material("diffuse", roughness=1.0, specular=0.0, shininess=1.0)
PLASTIC = Material("glossy", roughness=0.3, specular=0.35, shininess=20.0)


def _glossy(roughness: float, specular: float = 0.8) -> Material:
    return Material("glossy", roughness=roughness, specular=specular, shininess=max(2.0 / roughness**2 - 2.0, 1.0))


def _metal(roughness: float) -> Material:
    return Material("metal", roughness=roughness, specular=1.0, shininess=max(2.0 / roughness**2 - 2.0, 1.0))


# ---------------------------------------------------------------------------------------------------------------
# Procedural textures: (H, W, 3) float32 in [0, 1], row 0 at the top
# ---------------------------------------------------------------------------------------------------------------


def stripes_texture(n: int, color1, color2, size: int = 64, duty: float = 0.5) -> np.ndarray:
    """``n`` vertical stripes (along u): ``color1`` on a fraction ``duty`` of each period, ``color2`` elsewhere."""
    u = (np.arange(size) + 0.5) / size
    on = ((u * n) % 1.0) < duty  # (W,)
    row = np.where(on[:, None], np.asarray(color1, np.float32), np.asarray(color2, np.float32))  # (W, 3)
    return np.ascontiguousarray(np.broadcast_to(row[None], (size, size, 3)), dtype=np.float32)


def checker_texture(n: int, color1, color2, size: int = 64) -> np.ndarray:
    """An ``n`` x ``n`` checkerboard."""
    i = (np.arange(size) * n) // size
    odd = ((i[:, None] + i[None, :]) % 2).astype(bool)
    return np.where(odd[..., None], np.asarray(color2, np.float32), np.asarray(color1, np.float32)).astype(np.float32)


def sample_texture(texture: np.ndarray, uvs: np.ndarray) -> np.ndarray:
    """Bilinear lookup of ``texture`` (H, W, 3) at ``uvs`` (V, 2) in [0, 1] (v up, as OBJ) -> (V, 3) float32."""
    H, W = texture.shape[:2]
    x = np.clip(uvs[:, 0] * W - 0.5, 0, W - 1)
    y = np.clip((1.0 - uvs[:, 1]) * H - 0.5, 0, H - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, W - 1), np.minimum(y0 + 1, H - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = texture[y0, x0] * (1 - fx) + texture[y0, x1] * fx
    bottom = texture[y1, x0] * (1 - fx) + texture[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Geometry helpers: local geometry, then placed by a rotation and a centre
# ---------------------------------------------------------------------------------------------------------------


def rotation(axis: str, angle: float) -> np.ndarray:
    """(3, 3) rotation by ``angle`` radians about the world ``axis`` ("x", "y" or "z"), counter-clockwise looking
    down the axis (column vectors: ``rot @ p``)."""
    c, s = (0.0 if abs(t) < 1e-12 else t for t in (math.cos(angle), math.sin(angle)))  # quarter turns exact
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)
    if axis == "z":
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)
    raise ValueError(f"axis must be 'x', 'y' or 'z'; got {axis!r}")


def rotation_to(direction) -> np.ndarray:
    """(3, 3) rotation taking +Z to the unit vector along ``direction`` (the smallest such rotation)."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, d)
    s, c = np.linalg.norm(axis), float(z @ d)
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / s
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * K + (1 - c) * (K @ K)


def extrude(polygon, length: float, smooth: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A convex polygon in the local xy-plane extruded along local z over [-length/2, length/2].

    Args:
        polygon: (K, 2) counter-clockwise vertices (seen from +z).
        length: extent along z.
        smooth: share the side vertices between neighbouring sides (a smoothly shaded cylinder, no UVs); else every
            face has its own vertices (flat shading) and UVs: each side quad spans u in [0, 1] along its edge and v
            in [0, 1] along z, the caps take (x, y) scaled to the polygon's bounding box.

    Returns:
        verts (V, 3) float64, faces (F, 3) int64 wound outward, uvs (V, 2) float64 or None.
    """
    p = np.asarray(polygon, dtype=np.float64)
    K, h = len(p), length / 2.0
    i = np.arange(K)
    j = (i + 1) % K
    bottom = np.concatenate([p, np.full((K, 1), -h)], axis=1)
    top = np.concatenate([p, np.full((K, 1), h)], axis=1)
    lo, hi = p.min(0), p.max(0)
    cap_uv = (p - lo) / np.maximum(hi - lo, 1e-12)
    fan = np.stack([np.zeros(K - 2, np.int64), np.arange(1, K - 1), np.arange(2, K)], axis=1)  # CCW seen from +z
    if smooth:
        verts = np.concatenate([bottom, top, bottom, top])  # side ring (2K), bottom cap (K), top cap (K)
        sides = np.concatenate([np.stack([i, j, K + j], 1), np.stack([i, K + j, K + i], 1)])
        caps = np.concatenate([2 * K + fan[:, ::-1], 3 * K + fan])
        return verts, np.concatenate([sides, caps]).astype(np.int64), None
    quads = np.stack([bottom[i], bottom[j], top[j], top[i]], axis=1)  # (K, 4, 3)
    quad_uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    side_v = quads[:, tri].reshape(-1, 3)  # (6K, 3)
    side_uv = np.tile(quad_uv[tri].reshape(-1, 2), (K, 1))
    bot_v, top_v = bottom[fan[:, ::-1]].reshape(-1, 3), top[fan].reshape(-1, 3)
    bot_uv, top_uv = cap_uv[fan[:, ::-1]].reshape(-1, 2), cap_uv[fan].reshape(-1, 2)
    verts = np.concatenate([side_v, bot_v, top_v])
    uvs = np.concatenate([side_uv, bot_uv, top_uv])
    return verts, np.arange(len(verts), dtype=np.int64).reshape(-1, 3), uvs


def part(
    name: str,
    local: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    center=(0.0, 0.0, 0.0),
    rot: np.ndarray | None = None,
    color=(0.7, 0.7, 0.7),
    material: Material = MATTE,
    texture: np.ndarray | None = None,
) -> ScenePart:
    """A ``ScenePart`` from local geometry ``(verts, faces, uvs)`` rotated by ``rot`` and moved to ``center``.

    With a ``texture`` (the geometry must have UVs) the per-vertex colours are the texture at the vertices; else
    every vertex has ``color``.
    """
    verts, faces, uvs = local
    if rot is not None:
        verts = verts @ np.asarray(rot, dtype=np.float64).T
    verts = (verts + np.asarray(center, dtype=np.float64)).astype(np.float32)
    if texture is not None:
        if uvs is None:
            raise ValueError(f"part {name!r}: a texture needs UVs")
        uvs = np.clip(uvs, 0.0, 1.0).astype(np.float32)
        colors = sample_texture(texture, uvs)
    else:
        uvs = None
        colors = np.tile(np.asarray(color, dtype=np.float32), (len(verts), 1))
    return ScenePart(name, verts, np.asarray(faces, dtype=np.int64), colors, material, uvs, texture)


def box_geometry(size) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A flat-shaded box of ``size`` (sx, sy, sz) centred at the origin, every face mapped to the whole texture."""
    sx, sy, sz = (float(s) for s in size)
    rect = np.array([[-sx, -sy], [sx, -sy], [sx, sy], [-sx, sy]]) / 2.0
    return extrude(rect, sz)


def cylinder_geometry(radius: float, height: float, sides: int = 16, smooth: bool = True):
    """A cylinder along local z (``sides``-gon), smooth sides and flat caps unless ``smooth=False``."""
    theta = 2.0 * math.pi * np.arange(sides) / sides
    return extrude(np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1), height, smooth)


def stadium_geometry(length: float, radius: float, width: float, segments: int = 8):
    """A track's side profile: a rectangle of ``length`` between two half discs of ``radius`` (in local xy),
    extruded over ``width`` along z; flat-shaded, the sides' u runs along each link."""
    a = np.linspace(-math.pi / 2, math.pi / 2, segments + 1)
    right = np.stack([length / 2 + radius * np.cos(a), radius * np.sin(a)], axis=1)
    left = np.stack([-length / 2 - radius * np.cos(a), -radius * np.sin(a)], axis=1)
    return extrude(np.concatenate([right, left]), width)


def wedge_geometry(length: float, width: float, height: float):
    """A gable roof: a triangle of base ``width`` and ``height`` in local xy, extruded over ``length`` along z."""
    return extrude(np.array([[-width / 2, 0.0], [width / 2, 0.0], [0.0, height]]), length)


def sphere_geometry(radius: float = 1.0, n_lat: int = 24, n_lon: int = 48, scale=(1.0, 1.0, 1.0)):
    """A smooth UV sphere (``inverse3d.utils.uv_sphere``), optionally squashed into an ellipsoid by ``scale``."""
    from inverse3d.utils.primitives import uv_sphere

    mesh = uv_sphere(n_lat, n_lon, radius)
    verts = mesh.verts_packed().double().numpy() * np.asarray(scale, dtype=np.float64)
    return verts, mesh.faces_packed().numpy().astype(np.int64), None


def torus_geometry(r: float, R: float, sides: int = 24, rings: int = 48):
    """A smooth torus around local z (``inverse3d.utils.torus``)."""
    from inverse3d.utils.primitives import torus

    mesh = torus(r, R, sides, rings)
    return mesh.verts_packed().double().numpy(), mesh.faces_packed().numpy().astype(np.int64), None


def _between(a, b) -> tuple[np.ndarray, np.ndarray, float]:
    """(centre, rotation taking +Z along b - a, length) of a segment from ``a`` to ``b``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a + b) / 2.0, rotation_to(b - a), float(np.linalg.norm(b - a))


def _jitter(rng: np.random.Generator, color, amount: float = 0.04) -> tuple[float, float, float]:
    return tuple(float(c) for c in np.clip(np.asarray(color) + rng.uniform(-amount, amount, 3), 0.0, 1.0))


# ---------------------------------------------------------------------------------------------------------------
# The scenes
# ---------------------------------------------------------------------------------------------------------------


def lego_scene(seed: int = 0) -> SceneSpec:
    """A toy bulldozer: the lego-like scene (module docstring)."""
    rng = np.random.default_rng([int(seed), 101])
    yellow = _jitter(rng, (0.95, 0.72, 0.08))
    dark = _jitter(rng, (0.16, 0.16, 0.18), 0.02)
    grey = _jitter(rng, (0.55, 0.56, 0.6), 0.03)
    red = _jitter(rng, (0.8, 0.12, 0.1))
    steel = (0.78, 0.78, 0.8)
    tread = stripes_texture(24, (0.08, 0.08, 0.09), (0.32, 0.32, 0.34), duty=0.45)
    grille = stripes_texture(7, (0.1, 0.1, 0.1), yellow, duty=0.5)
    roof_tex = checker_texture(4, yellow, _jitter(rng, (0.98, 0.85, 0.35), 0.02))
    parts: list[ScenePart] = []
    track_y, track_z = -0.38, 0.56
    wheel_r = 0.15
    blade_tilt = rng.uniform(-0.12, 0.12)
    cabin_h = rng.uniform(0.46, 0.54)
    lift = rng.uniform(-0.05, 0.05)  # how high the blade is held

    # Tracks (stadium profiles with treads), wheels and hubs on both sides.
    for s in (-1, 1):
        z = s * track_z
        parts.append(part(f"track_{s:+d}", stadium_geometry(1.5, 0.2, 0.3, 10), (0.0, track_y, z), texture=tread,
                          material=MATTE))
        for k, x in enumerate(np.linspace(-0.72, 0.72, 4)):
            r = wheel_r * (1.15 if k in (0, 3) else 0.9)
            parts.append(part(f"wheel_{s:+d}_{k}", cylinder_geometry(r, 0.05, 20), (x, track_y, z + s * 0.165),
                              color=grey, material=PLASTIC))
            parts.append(part(f"hub_{s:+d}_{k}", cylinder_geometry(0.045, 0.04, 12), (x, track_y, z + s * 0.205),
                              color=red, material=PLASTIC))
    # Chassis, body, studs.
    parts.append(part("chassis", box_geometry((1.7, 0.14, 0.82)), (0.0, -0.16, 0.0), color=dark))
    body_top = 0.16
    parts.append(part("body", box_geometry((1.3, 0.26, 0.86)), (-0.1, body_top - 0.13, 0.0), color=yellow,
                      material=PLASTIC))
    # Fenders over the tracks: thin plates.
    for s in (-1, 1):
        parts.append(part(f"fender_{s:+d}", box_geometry((1.75, 0.03, 0.36)), (0.0, -0.08, s * track_z),
                          color=yellow, material=PLASTIC))
    stud = cylinder_geometry(0.05, 0.05, 16)
    upright = rotation("x", -math.pi / 2)  # local +z -> world +y
    for x in (0.3, 0.46):
        for z in (-0.3, -0.1, 0.1, 0.3):
            parts.append(part("stud", stud, (x, body_top + 0.025, z), upright, yellow, PLASTIC))
    # Engine at the rear, with a grille, an exhaust pipe and studs.
    parts.append(part("engine", box_geometry((0.42, 0.26, 0.7)), (-0.55, body_top + 0.13, 0.0), color=yellow,
                      material=PLASTIC))
    parts.append(part("grille", box_geometry((0.02, 0.18, 0.5)), (-0.77, body_top + 0.13, 0.0), texture=grille))
    for z in (-0.2, 0.0, 0.2):
        parts.append(part("stud", stud, (-0.55, body_top + 0.285, z), upright, yellow, PLASTIC))
    c, r, length = _between((-0.45, body_top + 0.26, 0.24), (-0.45, body_top + 0.72, 0.24))
    parts.append(part("exhaust", cylinder_geometry(0.035, length, 14), c, r, steel, _metal(0.25)))
    parts.append(part("exhaust_cap", cylinder_geometry(0.05, 0.04, 14), (-0.45, body_top + 0.74, 0.24), upright, dark))
    # Open cabin: four thin pillars, a back wall, a checkered studded roof, a seat and two levers inside.
    x0, x1, zc = -0.3, 0.24, 0.32
    for x in (x0, x1):
        for z in (-zc, zc):
            parts.append(part("pillar", box_geometry((0.045, cabin_h, 0.045)), (x, body_top + cabin_h / 2, z),
                              color=dark))
    parts.append(part("cabin_back", box_geometry((0.03, cabin_h * 0.6, 2 * zc)),
                      (x0 - 0.01, body_top + cabin_h * 0.3, 0.0), color=yellow, material=PLASTIC))
    roof_y = body_top + cabin_h + 0.03
    parts.append(part("roof", box_geometry((x1 - x0 + 0.14, 0.06, 2 * zc + 0.12)), ((x0 + x1) / 2, roof_y, 0.0),
                      texture=roof_tex, material=PLASTIC))
    for x in ((x0 + x1) / 2 - 0.12, (x0 + x1) / 2 + 0.12):
        for z in (-0.2, 0.2):
            parts.append(part("stud", stud, (x, roof_y + 0.055, z), upright, yellow, PLASTIC))
    parts.append(part("beacon", cylinder_geometry(0.04, 0.07, 12), ((x0 + x1) / 2, roof_y + 0.065, 0.0), upright,
                      (1.0, 0.45, 0.05), _glossy(0.15)))
    parts.append(part("seat", box_geometry((0.2, 0.08, 0.28)), (-0.12, body_top + 0.04, 0.0), color=dark))
    parts.append(part("seat_back", box_geometry((0.05, 0.25, 0.28)), (-0.2, body_top + 0.16, 0.0), color=dark))
    for z in (-0.1, 0.1):
        c, r, length = _between((0.12, body_top, z), (0.05, body_top + 0.24, z))
        parts.append(part("lever", cylinder_geometry(0.015, length, 8), c, r, steel, _metal(0.3)))
    # Blade: a concave arc of thin plates in front, held by two thin arms and two hydraulic pistons.
    blade_x, blade_y = 1.02, -0.3 + lift
    arc = np.linspace(-0.55, 0.55, 6)
    radius = 0.45
    for k, a in enumerate(arc[:-1]):
        a0, a1 = a + blade_tilt, arc[k + 1] + blade_tilt
        p0 = np.array([blade_x + radius * (1 - math.cos(a0)) * 0.6, blade_y + radius * math.sin(a0)])
        p1 = np.array([blade_x + radius * (1 - math.cos(a1)) * 0.6, blade_y + radius * math.sin(a1)])
        mid = (p0 + p1) / 2
        seg = float(np.linalg.norm(p1 - p0))
        angle = math.atan2(p1[1] - p0[1], p1[0] - p0[0])
        parts.append(part(f"blade_{k}", box_geometry((seg + 0.01, 0.035, 1.3)), (mid[0], mid[1], 0.0),
                          rotation("z", angle), yellow, PLASTIC))
    parts.append(part("blade_edge", box_geometry((0.05, 0.03, 1.3)), (blade_x + 0.03, blade_y - radius * 0.52, 0.0),
                      color=steel, material=_metal(0.35)))
    for s in (-1, 1):
        c, r, length = _between((0.55, -0.2, s * 0.43), (blade_x + 0.05, blade_y - 0.05, s * 0.43))
        parts.append(part("arm", box_geometry((0.05, 0.05, length)), c, r, yellow, PLASTIC))
        c, r, length = _between((0.4, body_top + 0.02, s * 0.22), (blade_x + 0.04, blade_y + 0.12, s * 0.22))
        parts.append(part("piston", cylinder_geometry(0.03, length, 12), c, r, steel, _metal(0.2)))
        c, r, length = _between((0.4, body_top + 0.02, s * 0.22), (0.4 + 0.55 * (blade_x - 0.36),
                                                                  body_top + 0.02 + 0.55 * (blade_y - 0.04 - body_top),
                                                                  s * 0.22))
        parts.append(part("cylinder", cylinder_geometry(0.045, length, 12), c, r, dark, PLASTIC))
    # Ripper at the rear: a cross bar on two arms, three prongs.
    parts.append(part("ripper_bar", box_geometry((0.08, 0.08, 0.62)), (-1.02, -0.2, 0.0), color=yellow,
                      material=PLASTIC))
    for s in (-1, 1):
        c, r, length = _between((-0.78, -0.05, s * 0.25), (-1.0, -0.2, s * 0.25))
        parts.append(part("ripper_arm", box_geometry((0.05, 0.05, length)), c, r, yellow, PLASTIC))
    for z in (-0.22, 0.0, 0.22):
        c, r, length = _between((-1.04, -0.2, z), (-1.14, -0.55, z))
        parts.append(part("prong", box_geometry((0.04, 0.06, length)), c, r, steel, _metal(0.35)))
    lights = [Light((3.0, 4.5, 2.5), (0.55, 0.55, 0.52), 0.4),
              Light((-3.5, 3.0, -2.0), (0.25, 0.27, 0.3), 0.6),
              Light((0.5, 5.0, -3.5), (0.15, 0.15, 0.15), 0.5)]
    cameras = CameraLayout("hemisphere", radius=4.0, fov_x=math.degrees(NERF_SYNTHETIC_CAMERA_ANGLE_X))
    return SceneSpec("lego", parts, lights, cameras, ambient=0.25, background=None)


def materials_scene(seed: int = 0) -> SceneSpec:
    """Matte, glossy and metal shapes on a checkered base: the view-dependent scene (module docstring)."""
    rng = np.random.default_rng([int(seed), 102])
    base_tex = checker_texture(6, (0.82, 0.82, 0.8), (0.35, 0.36, 0.4))
    parts = [part("base", box_geometry((2.3, 0.12, 1.9)), (0.0, -0.56, 0.0), texture=base_tex)]
    top = -0.5
    r = 0.34
    jitter = rng.uniform(-0.04, 0.04, size=(6, 2))
    sphere = sphere_geometry(r)
    specs = [
        ("diffuse_sphere", (-0.72, -0.45), (0.8, 0.12, 0.1), MATTE),
        ("glossy_smooth_sphere", (0.0, -0.45), (0.1, 0.25, 0.8), _glossy(0.1, 0.9)),
        ("glossy_rough_sphere", (0.72, -0.45), (0.15, 0.6, 0.2), _glossy(0.3, 0.5)),
        ("gold_sphere", (-0.72, 0.45), (0.95, 0.7, 0.25), _metal(0.12)),
    ]
    for k, (name, (x, z), color, material) in enumerate(specs):
        parts.append(part(name, sphere, (x + jitter[k, 0], top + r, z + jitter[k, 1]), None,
                          _jitter(rng, color, 0.03), material))
    # A standing copper torus and a glossy white cube turned about y.
    R_t, r_t = 0.3, 0.09
    parts.append(part("copper_torus", torus_geometry(r_t, R_t), (jitter[4, 0], top + R_t + r_t, 0.45 + jitter[4, 1]),
                      rotation("y", rng.uniform(0.3, 0.8)), _jitter(rng, (0.93, 0.55, 0.38), 0.03), _metal(0.2)))
    parts.append(part("glossy_cube", box_geometry((0.46, 0.46, 0.46)),
                      (0.72 + jitter[5, 0], top + 0.23, 0.45 + jitter[5, 1]),
                      rotation("y", rng.uniform(0.3, 1.2)), (0.92, 0.92, 0.9), _glossy(0.1, 0.7)))
    lights = [Light((2.5, 4.0, 3.0), (0.7, 0.7, 0.68), 0.3),
              Light((-3.0, 3.5, -1.5), (0.35, 0.35, 0.4), 0.5),
              Light((0.0, 4.5, -3.5), (0.25, 0.25, 0.25), 0.5)]
    cameras = CameraLayout("hemisphere", radius=4.0, fov_x=math.degrees(NERF_SYNTHETIC_CAMERA_ANGLE_X))
    return SceneSpec("materials", parts, lights, cameras, ambient=0.25, background=None)


def box_color(points: np.ndarray, center=BOX_CENTER) -> np.ndarray:
    """The course's "rainbow" colour of the box at ``points`` (..., 3): ``clamp(|p - center|, 0.02, 0.98)``."""
    return np.clip(np.abs(np.asarray(points, dtype=np.float64) - np.asarray(center)), 0.02, 0.98).astype(np.float32)


def box_mesh(center=BOX_CENTER, sides=BOX_SIDES, segments: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The box's surface: each face a grid of ``segments`` x ``segments`` quads with its own vertices (flat shading;
    an even ``segments`` puts grid lines where ``box_color`` has its kinks).

    Returns:
        verts (6 (segments + 1)^2, 3) float32, faces (12 segments^2, 3) int64, wound outward.
    """
    from inverse3d.utils.primitives import plane

    verts, faces, offset = [], [], 0
    half = np.asarray(sides, dtype=np.float64) / 2.0
    for axis, name in enumerate("xyz"):
        for sign in ("+", "-"):
            mesh = plane(1.0, segments, sign + name)  # unit square through the origin, facing sign*axis
            v = mesh.verts_packed().double().numpy() * (2 * half)
            v[:, axis] = (1.0 if sign == "+" else -1.0) * half[axis]
            verts.append(v + np.asarray(center))
            faces.append(mesh.faces_packed().numpy() + offset)
            offset += len(v)
    return np.concatenate(verts).astype(np.float32), np.concatenate(faces).astype(np.int64)


def box_scene(seed: int = 0) -> SceneSpec:
    """The course's box (module docstring). The seed does not change it: its centre and sides are the ground truth
    that fitting is checked against."""
    del seed
    verts, faces = box_mesh()
    box = ScenePart("box", verts, faces, box_color(verts), MATTE)
    lights = [Light((3.0, 5.0, 4.0), (0.6, 0.6, 0.6), 0.3), Light((-4.0, 2.0, -3.0), (0.3, 0.3, 0.3), 0.5)]
    cameras = CameraLayout("sphere", radius=5.0, fov_x=45.0, look_at=BOX_CENTER, elevation=30.0)
    return SceneSpec("box", [box], lights, cameras, ambient=0.5, background=None)


def forward_scene(seed: int = 0) -> SceneSpec:
    """Objects on a ground plane under a sky colour, seen by forward-facing cameras (module docstring)."""
    rng = np.random.default_rng([int(seed), 104])
    grass = checker_texture(16, (0.36, 0.55, 0.25), (0.3, 0.48, 0.2), size=128)
    ground = extrude(np.array([[-4.0, -3.5], [4.0, -3.5], [4.0, 4.5], [-4.0, 4.5]]), 0.0)
    # Only the +z cap of the flat extrusion (its last two triangles), turned to face +y: z = -y in [-4.5, 3.5].
    g_verts, g_faces, g_uvs = ground
    top = g_faces[-2:].reshape(-1)
    ground = (g_verts[top], np.arange(6, dtype=np.int64).reshape(2, 3), g_uvs[top])
    parts = [part("ground", ground, (0.0, 0.0, 0.0), rotation("x", -math.pi / 2), texture=grass)]
    # A house: walls, a gable roof, a door.
    hx, hz = -1.3 + rng.uniform(-0.1, 0.1), -1.4 + rng.uniform(-0.1, 0.1)
    wall = stripes_texture(12, (0.86, 0.8, 0.68), (0.8, 0.74, 0.62), duty=0.7)
    parts.append(part("house", box_geometry((1.1, 0.8, 0.9)), (hx, 0.4, hz), texture=wall))
    parts.append(part("roof", wedge_geometry(1.25, 1.05, 0.45), (hx, 0.8, hz), rotation("y", math.pi / 2),
                      _jitter(rng, (0.65, 0.2, 0.15)), PLASTIC))
    parts.append(part("door", box_geometry((0.25, 0.45, 0.02)), (hx + 0.2, 0.225, hz + 0.455),
                      color=(0.35, 0.22, 0.12)))
    # Trees at several depths: trunks and ellipsoid crowns.
    for k, (x, z) in enumerate([(1.4, -2.0), (-2.6, -2.9), (0.5, -3.4), (2.6, -1.0)]):
        x, z = x + rng.uniform(-0.15, 0.15), z + rng.uniform(-0.15, 0.15)
        h = rng.uniform(0.5, 0.8)
        parts.append(part(f"trunk_{k}", cylinder_geometry(0.07, h, 12), (x, h / 2, z), rotation("x", -math.pi / 2),
                          (0.4, 0.27, 0.15)))
        crown = rng.uniform(0.35, 0.5)
        parts.append(part(f"crown_{k}", sphere_geometry(crown, 16, 32, (1.0, 1.25, 1.0)), (x, h + crown, z), None,
                          _jitter(rng, (0.15, 0.45, 0.15), 0.05)))
    # A crate, a glossy ball, a rock and a tower.
    crate = checker_texture(3, (0.7, 0.5, 0.28), (0.6, 0.42, 0.22))
    parts.append(part("crate", box_geometry((0.5, 0.5, 0.5)), (1.0, 0.25, 0.4), rotation("y", rng.uniform(0.2, 0.6)),
                      texture=crate))
    parts.append(part("ball", sphere_geometry(0.3), (0.2 + rng.uniform(-0.1, 0.1), 0.3, 0.7), None,
                      _jitter(rng, (0.15, 0.3, 0.85)), _glossy(0.1, 0.8)))
    parts.append(part("rock", sphere_geometry(0.35, 8, 12, (1.3, 0.6, 1.0)), (-0.6, 0.12, 0.9), None,
                      (0.5, 0.5, 0.5)))
    parts.append(part("tower", cylinder_geometry(0.25, 2.4, 20), (2.3, 1.2, -3.3), rotation("x", -math.pi / 2),
                      (0.75, 0.75, 0.78), PLASTIC))
    lights = [Light((4.0, 6.0, 4.0), (0.75, 0.72, 0.65), 0.5), Light((-4.0, 4.0, 2.0), (0.25, 0.28, 0.35), 0.8)]
    cameras = CameraLayout("forward", radius=4.0, fov_x=55.0, look_at=(0.0, 0.5, -1.0), elevation=12.0)
    return SceneSpec("forward", parts, lights, cameras, ambient=0.35, background=(0.62, 0.78, 0.95))


# ---------------------------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinScene:
    """A built-in scene: how to build it and how ``make_scene`` lays out and renders its views by default.

    build: ``seed -> SceneSpec``.
    description: one line for ``inverse3d scenes list``.
    n_views: default (train, val, test) view counts.
    split_kinds: the ``CameraLayout.kind`` of each split's views (None: the layout's own kind); the rest of the layout
        (radius, field of view, look-at point, elevation) is the scene's.
    volume_rendered: the raster renderer draws the colours by volume rendering of the scene's SDF (``sdf_box.py``)
        instead of rasterising the mesh.
    metadata: JSON-serialisable facts written into the manifest and the transforms files (e.g. the box's centre and
        sides).
    """

    name: str
    build: Callable[[int], SceneSpec]
    description: str
    n_views: tuple[int, int, int] = (100, 100, 200)
    split_kinds: dict = field(default_factory=lambda: {"train": None, "val": None, "test": "ring"})
    volume_rendered: bool = False
    metadata: dict = field(default_factory=dict)

    def layout(self, spec: SceneSpec, split: str) -> CameraLayout:
        """The camera layout of ``split``'s views."""
        kind = self.split_kinds.get(split)
        return spec.cameras if kind is None else replace(spec.cameras, kind=kind)


SCENES: dict[str, BuiltinScene] = {
    "lego": BuiltinScene("lego", lego_scene, "a toy bulldozer of many textured parts, thin structures and concave "
                         "regions (the stand-in for NeRF-synthetic's lego)"),
    "materials": BuiltinScene("materials", materials_scene, "matte, glossy and metal shapes on a base: highlights "
                              "that move with the viewpoint"),
    "box": BuiltinScene("box", box_scene, "the course's box (centre (0.25, 0.25, 0), sides (2, 1.5, 1.5)) by volume "
                        "rendering of its SDF, 4 training views", n_views=(4, 100, 200),
                        split_kinds={"train": "sphere", "val": "ring", "test": "ring"}, volume_rendered=True,
                        metadata={"box": {"center": list(BOX_CENTER), "sides": list(BOX_SIDES),
                                          "density": "VolSDF Laplace CDF of the SDF, alpha = 1 / beta",
                                          "beta": BOX_BETA, "color": "clamp(|p - center|, 0.02, 0.98)"}}),
    "forward": BuiltinScene("forward", forward_scene, "objects on a ground plane under a sky, forward-facing "
                            "cameras (LLFF-like, opaque images)", split_kinds={"train": None, "val": None,
                                                                               "test": None}),
}


def scene_names() -> tuple[str, ...]:
    """Names of the built-in scenes, in the order ``inverse3d scenes list`` prints them."""
    return tuple(SCENES)


def get_scene(name: str) -> BuiltinScene:
    """The registry entry of ``name``; a one-line ``ValueError`` listing the known names otherwise."""
    if not isinstance(name, str) or name not in SCENES:
        raise ValueError(f"unknown scene {name!r}; choose one of {', '.join(SCENES)}")
    return SCENES[name]


def scene_spec(name: str, seed: int = 0) -> SceneSpec:
    """The ``SceneSpec`` of built-in scene ``name`` drawn with ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    return get_scene(name).build(int(seed))
