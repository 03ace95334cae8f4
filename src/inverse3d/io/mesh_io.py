"""Load any supported mesh by its suffix (``load_mesh``) and summarise a mesh or point-cloud file
(``describe_file``, behind ``inverse3d info PATH``)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import torch

from inverse3d.io.errors import MeshFileError, check_file, read_source

MESH_SUFFIXES = (".obj", ".ply", ".glb", ".gltf", ".off", ".stl")
POINTCLOUD_SUFFIXES = (".ply", ".npz", ".npy")


def _check_path(path) -> tuple[Path, str]:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected a path, got {type(path).__name__}")
    p = check_file(path)
    return p, p.suffix.lower()


def _read_trimesh(path: Path):
    """(verts (V, 3), faces (F, 3), vertex colours (V, 3) in [0, 1] or None) of an OFF/STL file via trimesh."""
    import io

    import trimesh

    data, name, _ = read_source(path)
    if not data:
        raise MeshFileError(name, "is empty (0 bytes)")
    try:
        mesh = trimesh.load(io.BytesIO(data), file_type=path.suffix.lower().lstrip("."), process=False, force="mesh")
    except Exception as err:
        text = str(err).splitlines()[0] if str(err) else ""
        raise MeshFileError(path, f"cannot parse ({type(err).__name__}: {text[:200]})") from err
    verts = np.asarray(getattr(mesh, "vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    if not np.isfinite(verts).all():
        bad = np.flatnonzero(~np.isfinite(verts).all(axis=1))[0]
        raise MeshFileError(path, f"vertex {bad} has a non-finite coordinate ({verts[bad].tolist()})")
    colours = None
    visual = getattr(mesh, "visual", None)
    if getattr(visual, "kind", None) == "vertex":
        colours = np.asarray(visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0
    return verts, faces, colours


def load_mesh(path, device="cpu", *, allow_external_files: bool = False, max_texture_pixels: int | None = None):
    """Loads a mesh file as a ``Meshes`` (one mesh), choosing the reader by suffix.

    .obj: ``load_objs_as_meshes`` (TexturesUV / TexturesVertex from materials or vertex colours);
    .ply: ``load_ply`` (TexturesVertex from vertex colours); .glb / .gltf: ``load_glb``;
    .off / .stl: trimesh (TexturesVertex from vertex colours where the file has them).

    Args:
        allow_external_files: read materials, textures and buffers that the file places outside its folder
            (refused by default, see ``inverse3d.io.references``; the CLI's ``--allow-external-files``).
        max_texture_pixels: pixel budget of texture images, checked from their headers (None:
            ``$INVERSE3D_MAX_TEXTURE_PIXELS``, else 64 Mpx; see ``inverse3d.io.images``).

    Raises:
        MeshFileError naming the file: unsupported suffix, no faces (e.g. a point-cloud PLY), bad content;
        MeshFileNotFoundError when missing.
    """
    from inverse3d.renderer.mesh.textures import TexturesVertex
    from inverse3d.structures import Meshes

    p, suffix = _check_path(path)
    if suffix == ".obj":
        from inverse3d.io.obj_io import load_objs_as_meshes

        return load_objs_as_meshes([p], device=device, allow_external_files=allow_external_files,
                                   max_texture_pixels=max_texture_pixels)
    if suffix in (".glb", ".gltf"):
        from inverse3d.io.gltf_io import load_glb

        return load_glb(p, device=device, allow_external_files=allow_external_files,
                        max_texture_pixels=max_texture_pixels)
    if suffix == ".ply":
        from inverse3d.io.ply_io import read_ply

        ply = read_ply(p)
        verts, faces, colours = ply["verts"], ply["faces"], ply["colors"]
    elif suffix in (".off", ".stl"):
        verts, faces, colours = _read_trimesh(p)
    else:
        raise MeshFileError(path, f"unsupported mesh format {suffix or '(no suffix)'!r} "
                                  f"(supported: {', '.join(MESH_SUFFIXES)})")
    if faces.shape[0] == 0:
        hint = "; it is a point cloud, load it with load_pointcloud" if suffix == ".ply" else ""
        raise MeshFileError(path, f"has no faces ({verts.shape[0]} vertices){hint}")
    verts_t = torch.from_numpy(verts).to(device=device, dtype=torch.float32)
    faces_t = torch.from_numpy(np.ascontiguousarray(faces)).to(device)
    textures = None
    if colours is not None:
        textures = TexturesVertex(verts_features=[torch.from_numpy(colours).to(device=device, dtype=torch.float32)])
    return Meshes(verts=[verts_t], faces=[faces_t], textures=textures)


def _bounds(points: np.ndarray) -> dict:
    if points.shape[0] == 0:
        return {"min": None, "max": None}
    return {"min": points.min(axis=0).tolist(), "max": points.max(axis=0).tolist()}


def _watertight(verts: np.ndarray, faces: np.ndarray) -> bool:
    """trimesh's is_watertight after merging vertices at equal positions (seams split by UVs are closed)."""
    import trimesh

    if faces.shape[0] == 0:
        return False
    return bool(trimesh.Trimesh(vertices=verts, faces=faces, process=True).is_watertight)


def _gltf_json(path: Path) -> dict:
    """The JSON document of a .gltf file or of the first chunk of a .glb file ({} if unreadable)."""
    try:
        data = path.read_bytes()
        if data[:4] == b"glTF":
            length, kind = struct.unpack_from("<I4s", data, 12)
            return json.loads(data[20 : 20 + length]) if kind == b"JSON" else {}
        return json.loads(data)
    except (ValueError, struct.error, OSError):
        return {}


def describe_file(path, *, allow_external_files: bool = False, max_texture_pixels: int | None = None) -> dict:
    """A summary of a mesh or point-cloud file, for ``inverse3d info``.

    ``allow_external_files`` and ``max_texture_pixels`` are as in ``load_mesh``.

    Returns:
        For meshes: {"path", "format", "kind": "mesh", "vertices", "faces", "bounds": {"min": [x, y, z],
        "max": [x, y, z]}, "has_uvs", "has_normals", "has_colors", "textures": [{"material", "width",
        "height"}], "watertight"} (faces after triangulation; watertight: trimesh's ``is_watertight`` on the
        mesh with vertices at equal positions merged).
        For point clouds (PLY without faces, NPZ, NPY): {"path", "format", "kind": "pointcloud", "points",
        "bounds", "has_normals", "has_colors"}.
    Raises:
        MeshFileError / MeshFileNotFoundError naming the file.
    """
    p, suffix = _check_path(path)
    info: dict = {"path": os.fspath(path), "format": suffix.lstrip(".")}
    if suffix in (".npz", ".npy") or suffix == ".ply":
        from inverse3d.io.ply_io import read_ply, read_pointcloud

        if suffix == ".ply":
            ply = read_ply(p)
            if ply["faces"].shape[0]:
                verts, faces = ply["verts"], ply["faces"]
                info.update(kind="mesh", vertices=int(verts.shape[0]), faces=int(faces.shape[0]),
                            bounds=_bounds(verts), has_uvs=False, has_normals=ply["normals"] is not None,
                            has_colors=ply["colors"] is not None, textures=[], watertight=_watertight(verts, faces))
                return info
            cloud = {"points": ply["verts"], "normals": ply["normals"], "features": ply["colors"],
                     "features_are_colors": ply["colors"] is not None}
        else:
            cloud = read_pointcloud(p)
        info.update(kind="pointcloud", points=int(cloud["points"].shape[0]), bounds=_bounds(cloud["points"]),
                    has_normals=cloud["normals"] is not None, has_colors=bool(cloud["features_are_colors"]))
        if cloud["features"] is not None and not cloud["features_are_colors"]:
            info["features"] = int(cloud["features"].shape[1])
        return info

    if suffix == ".obj":
        from inverse3d.io.obj_io import _read_obj, load_materials

        obj = _read_obj(p)
        if obj.index_error is not None:  # faces pointing outside the vertices: not a usable mesh
            raise obj.index_error
        _, images = load_materials(obj, "cpu", allow_external_files, max_texture_pixels)
        info.update(kind="mesh", vertices=int(obj.verts.shape[0]), faces=int(obj.faces_verts.shape[0]),
                    bounds=_bounds(obj.verts), has_uvs=bool((obj.faces_uvs >= 0).any()),
                    has_normals=bool((obj.faces_normals >= 0).any()), has_colors=obj.verts_colors is not None,
                    textures=[{"material": k, "width": int(v.shape[1]), "height": int(v.shape[0])}
                              for k, v in (images or {}).items()],
                    watertight=_watertight(obj.verts, obj.faces_verts))
        return info
    if suffix in (".glb", ".gltf"):
        from inverse3d.io.gltf_io import load_glb

        mesh = load_glb(p, allow_external_files=allow_external_files, max_texture_pixels=max_texture_pixels)
        verts = mesh.verts_packed().double().numpy()
        faces = mesh.faces_packed().numpy()
        doc = _gltf_json(p)
        attributes = [prim.get("attributes", {}) for m in doc.get("meshes", []) for prim in m.get("primitives", [])]
        textures = []
        maps = getattr(mesh.textures, "maps_list", None)
        if callable(maps) and any("TEXCOORD_0" in a for a in attributes):
            textures = [{"material": "baseColorTexture (packed)" if len(doc.get("images", [])) > 1 else
                         "baseColorTexture", "width": int(m.shape[1]), "height": int(m.shape[0])} for m in maps()]
        info.update(kind="mesh", vertices=int(verts.shape[0]), faces=int(faces.shape[0]), bounds=_bounds(verts),
                    has_uvs=any("TEXCOORD_0" in a for a in attributes),
                    has_normals=any("NORMAL" in a for a in attributes),
                    has_colors=any("COLOR_0" in a for a in attributes), textures=textures,
                    watertight=_watertight(verts, faces))
        return info
    if suffix in (".off", ".stl"):
        verts, faces, colours = _read_trimesh(p)
        info.update(kind="mesh", vertices=int(verts.shape[0]), faces=int(faces.shape[0]), bounds=_bounds(verts),
                    has_uvs=False, has_normals=suffix == ".stl", has_colors=colours is not None, textures=[],
                    watertight=_watertight(verts, faces))
        return info
    raise MeshFileError(path, f"unsupported file format {suffix or '(no suffix)'!r} "
                              f"(supported: {', '.join(sorted(set(MESH_SUFFIXES + POINTCLOUD_SUFFIXES)))})")


def format_description(info: dict) -> str:
    """``describe_file``'s dict as a few human-readable lines."""

    def vec(x):
        return "(" + ", ".join(f"{v:.4g}" for v in x) + ")" if x is not None else "-"

    lines = [f"{info['path']}  [{info['format']} {info['kind']}]"]
    if info["kind"] == "mesh":
        lines.append(f"  vertices: {info['vertices']}   faces: {info['faces']}")
    else:
        lines.append(f"  points: {info['points']}")
    lines.append(f"  bounds: min {vec(info['bounds']['min'])}  max {vec(info['bounds']['max'])}")
    flags = ["has_uvs", "has_normals", "has_colors", "watertight"]
    lines.append("  " + "   ".join(f"{k}: {'yes' if info[k] else 'no'}" for k in flags if k in info))
    for tex in info.get("textures", []):
        lines.append(f"  texture: {tex['material']} {tex['width']}x{tex['height']}")
    return "\n".join(lines)
