"""The known meshes of the inverse problems: the built-in cow-like mesh, the lego-like scene's mesh, a user's file.

The cow-like mesh is a genus-0 surface made here (no file ships with inverse3d): a smooth union of ellipsoids (body,
head, snout, four legs, two ears) whose *radial hull* seen from the body's centre is traced along the vertex directions
of an ico sphere, so it keeps the sphere's connectivity (genus 0, watertight, every face outward). It carries a
``TexturesUV`` map of black patches on white with a pink snout, baked from a function of the direction over
spherical UVs (seam faces use a copy of the map's first columns, so no face is stretched over the whole map). It is
normalised as ShapeNet is (centred at its bounding box's centre, bounding-box diagonal 1), so F1@t thresholds are in
the units of CONVENTIONS.md.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch

__all__ = ["BUILTIN_MESHES", "cow_like_mesh", "cow_like_sdf", "lego_mesh", "load_known_mesh", "normalize_verts",
           "spherical_uvs"]

BUILTIN_MESHES = ("cow", "lego")
# Ellipsoids of the cow-like shape: centre (x, y, z) and semi-axes (a, b, c); +z is the front, +y up.
_BLOBS = (
    ((0.0, 0.0, 0.0), (0.34, 0.30, 0.62)),  # body
    ((0.0, 0.22, 0.70), (0.20, 0.20, 0.24)),  # head
    ((0.0, 0.13, 0.90), (0.14, 0.11, 0.12)),  # snout
    ((0.22, -0.42, 0.40), (0.10, 0.28, 0.10)),  # legs
    ((-0.22, -0.42, 0.40), (0.10, 0.28, 0.10)),
    ((0.22, -0.42, -0.40), (0.10, 0.28, 0.10)),
    ((-0.22, -0.42, -0.40), (0.10, 0.28, 0.10)),
    ((0.20, 0.40, 0.62), (0.12, 0.05, 0.06)),  # ears
    ((-0.20, 0.40, 0.62), (0.12, 0.05, 0.06)),
)
_SMOOTH = 0.08
"""Width of the smooth union (polynomial smooth minimum)."""
_COLOR_RADIUS = 0.9
"""The texture is the colour function on the sphere of this radius (a function of the direction: cheap to bake)."""
_U_SPAN = 1.5
"""The texture map covers u in [0, 1.5]: columns beyond u = 1 repeat the first ones for the faces across the seam."""


def cow_like_sdf(points: torch.Tensor) -> torch.Tensor:
    """Approximate signed distance (negative inside) of the cow-like shape before normalisation.

    Args:
        points: (..., 3) float.
    Returns:
        (...) float.
    """
    out = None
    for centre, axes in _BLOBS:
        c = points.new_tensor(centre)
        a = points.new_tensor(axes)
        d = (torch.linalg.norm((points - c) / a, dim=-1) - 1.0) * a.min()  # (...)
        if out is None:
            out = d
        else:  # polynomial smooth minimum
            h = (0.5 + 0.5 * (d - out) / _SMOOTH).clamp(0, 1)
            out = d * (1 - h) + out * h - _SMOOTH * h * (1 - h)
    return out


def _radial_hull(dirs: torch.Tensor, samples: int = 512, reach: float = 1.5) -> torch.Tensor:
    """(V,) distance along each unit direction (V, 3) from the origin to the last crossing of the cow-like surface."""
    t = torch.linspace(0, reach, samples, dtype=dirs.dtype, device=dirs.device)  # (S,)
    f = cow_like_sdf(dirs[:, None, :] * t[None, :, None])  # (V, S)
    inside = f < 0
    idx = torch.arange(samples, device=dirs.device).expand_as(f)
    last = torch.where(inside, idx, torch.zeros_like(idx)).amax(dim=1).clamp(max=samples - 2)  # (V,)
    f0 = f.gather(1, last[:, None])[:, 0]
    f1 = f.gather(1, last[:, None] + 1)[:, 0]
    frac = (f0 / (f0 - f1).clamp(min=1e-12)).clamp(0, 1)  # linear interpolation of the zero crossing
    return t[last] + frac * (t[1] - t[0])


def normalize_verts(verts: torch.Tensor) -> torch.Tensor:
    """(V, 3) -> (V, 3) centred at the bounding box's centre with bounding-box diagonal 1 (ShapeNet's units)."""
    lo, hi = verts.amin(0), verts.amax(0)
    diag = torch.linalg.norm(hi - lo)
    if not torch.isfinite(diag) or diag <= 0:
        raise ValueError("cannot normalise a mesh whose vertices are all equal or not finite")
    return (verts - (lo + hi) / 2) / diag


def spherical_uvs(dirs: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spherical UVs of unit directions with the seam split.

    Args:
        dirs: (V, 3) unit vectors; u = azimuth around +y, v = polar angle from +y down.
        faces: (F, 3) long.
    Returns:
        verts_uvs: (V + V, 2) in [0, 1]: the V vertices' (u / 1.5, v), then the same with u + 1 (for seam faces).
        faces_uvs: (F, 3) long indices into verts_uvs.
    """
    u = (torch.atan2(dirs[:, 0], dirs[:, 2]) / (2 * math.pi)) % 1.0  # (V,)
    v = torch.acos(dirs[:, 1].clamp(-1, 1)) / math.pi  # (V,) 0 at the top
    uv = torch.stack([u, 1 - v], dim=1)  # image row 0 (v = 1 in TexturesUV) at the top
    shifted = (uv + uv.new_tensor([1.0, 0.0])).clamp(max=_U_SPAN)  # only u < 0.5 are used
    verts_uvs = torch.cat([uv, shifted]) / uv.new_tensor([_U_SPAN, 1.0])
    fu = u[faces]  # (F, 3)
    seam = (fu.amax(1) - fu.amin(1)) > 0.5  # (F,) faces across u = 0 / 1
    low = seam[:, None] & (fu < 0.5)  # (F, 3) corners to take from the shifted copy
    faces_uvs = faces + low.long() * dirs.shape[0]
    return verts_uvs, faces_uvs


def _cow_colors(points: torch.Tensor) -> torch.Tensor:
    """(..., 3) positions (before normalisation) -> (..., 3) colours: black patches on white, a pink snout."""
    x, y, z = points.unbind(-1)
    n = (torch.sin(7.0 * x + 1.3) * torch.sin(6.0 * y - 0.7) * torch.sin(5.0 * z + 0.4)
         + 0.6 * torch.sin(11.0 * z + 3.0 * x) * torch.cos(9.0 * y + 2.0 * x))
    patch = torch.sigmoid((n - 0.25) * 14.0)[..., None]  # (..., 1)
    white = points.new_tensor([0.93, 0.92, 0.88])
    black = points.new_tensor([0.10, 0.09, 0.09])
    col = white * (1 - patch) + black * patch
    snout = torch.sigmoid((z - 0.84) * 40.0)[..., None]
    return col * (1 - snout) + points.new_tensor([0.92, 0.60, 0.62]) * snout


@functools.lru_cache(maxsize=4)
def _cow_geometry(level: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(unit directions (V, 3) float64, faces (F, 3), normalised vertices (V, 3) float64), cached per level."""
    from inverse3d.utils.ico_sphere import ico_sphere_verts_faces

    dirs, faces = ico_sphere_verts_faces(level, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    radius = _radial_hull(dirs)
    return dirs, faces, normalize_verts(dirs * radius[:, None])


def cow_like_mesh(level: int = 4, texture_size: int = 128, device=None, textured: bool = True):
    """The built-in cow-like mesh (module docstring): a one-mesh ``Meshes`` with a ``TexturesUV`` map.

    Args:
        level: ico-sphere level of the connectivity (4: 2562 vertices, 5120 faces).
        texture_size: height of the texture map (its width is 1.5x, rounded).
        device: where the tensors live.
        textured: False gives a constant grey ``TexturesVertex`` instead.
    """
    from inverse3d.renderer import TexturesUV, TexturesVertex
    from inverse3d.structures import Meshes

    dirs, faces, verts = _cow_geometry(int(level))
    if not textured:
        tex = TexturesVertex([torch.full_like(verts, 0.7, dtype=torch.float32).to(device)])
        return Meshes([verts.float().to(device)], [faces.clone().to(device)], textures=tex)
    verts_uvs, faces_uvs = spherical_uvs(dirs, faces)
    H = int(texture_size)
    W = int(round(H * _U_SPAN))
    # Texel centres -> directions -> surface points -> colours (align_corners=True: texel j at u = j / (W - 1)).
    uu = torch.linspace(0, 1, W, dtype=torch.float64) * _U_SPAN
    vv = 1 - torch.linspace(1, 0, H, dtype=torch.float64)  # row 0 at the top (v = 1 -> polar angle 0)
    phi = uu * 2 * math.pi  # (W,)
    theta = vv * math.pi  # (H,)
    d = torch.stack([torch.sin(theta)[:, None] * torch.sin(phi)[None], torch.cos(theta)[:, None].expand(H, W),
                     torch.sin(theta)[:, None] * torch.cos(phi)[None]], dim=-1)  # (H, W, 3)
    texture = _cow_colors(d * _COLOR_RADIUS).float()  # (H, W, 3), a function of the direction alone
    tex = TexturesUV(maps=[texture.to(device)], faces_uvs=[faces_uvs.to(device)],
                     verts_uvs=[verts_uvs.float().to(device)])
    return Meshes([verts.float().to(device)], [faces.clone().to(device)], textures=tex)


def lego_mesh(device=None, seed: int = 0):
    """The lego-like built-in scene's mesh (the same surface as its ``mesh.ply``), with its parts' vertex colours."""
    from inverse3d.datasets.scenes import join_parts, scene_spec
    from inverse3d.renderer import TexturesVertex
    from inverse3d.structures import Meshes

    parts = join_parts(scene_spec("lego", seed))
    verts = torch.as_tensor(parts.verts, dtype=torch.float32, device=device)
    faces = torch.as_tensor(parts.faces, dtype=torch.int64, device=device)
    colors = torch.as_tensor(parts.colors, dtype=torch.float32, device=device).clamp(0, 1)
    return Meshes([verts], [faces], textures=TexturesVertex([colors]))


def load_known_mesh(source: str | Path, device=None, texture_size: int = 128, level: int = 4):
    """``"cow"`` (ico-sphere ``level``), ``"lego"`` or a mesh file (.obj, .ply, .off, .stl, .glb) as a one-mesh
    ``Meshes`` with textures
    (a file without any gets a constant grey ``TexturesVertex``).

    Raises:
        ValueError / MeshFileError: a missing or malformed file, or vertices that are not finite, in one line.
    """
    if str(source) == "cow":
        return cow_like_mesh(level=level, texture_size=texture_size, device=device)
    if str(source) == "lego":
        return lego_mesh(device=device)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"--mesh {source}: no such file (or use a built-in mesh: {', '.join(BUILTIN_MESHES)})")
    from inverse3d.io import load_mesh
    from inverse3d.renderer import TexturesVertex

    mesh = load_mesh(path, device=device or "cpu")
    verts = mesh.verts_packed()
    if verts.shape[0] == 0 or mesh.faces_packed().shape[0] == 0:
        raise ValueError(f"--mesh {path}: the mesh has no faces")
    if not torch.isfinite(verts).all():
        raise ValueError(f"--mesh {path}: vertex coordinates contain NaN or infinity")
    if mesh.textures is None:
        mesh.textures = TexturesVertex([torch.full_like(verts, 0.7)])
    return mesh
