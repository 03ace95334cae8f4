"""GLB / glTF scenes as one ``Meshes`` (``load_glb``), read with trimesh.

The whole scene is joined into one mesh with every node's transform applied (trimesh's ``Scene.dump``).
Textures: parts whose material has a base-colour texture sample it (times the material's base-colour factor);
the other parts take their vertex colours or their material's base colour. With at least one texture the
result is a ``TexturesUV`` (several images are packed side by side as in ``load_objs_as_meshes``; parts without
texture get a solid patch of their mean colour); without any, a ``TexturesVertex``.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from inverse3d.io.errors import MeshFileError, MeshFileNotFoundError, PathOrFile, source_name
from inverse3d.io.obj_io import pack_texture_maps

_GREY = np.array([0.5, 0.5, 0.5])


def _material_image(visual) -> np.ndarray | None:
    """(H, W, 3) float image in [0, 1] of a trimesh TextureVisuals' base colour (factor applied), or None."""
    material = getattr(visual, "material", None)
    if material is None or getattr(visual, "uv", None) is None:
        return None
    image = getattr(material, "baseColorTexture", None)
    if image is None:
        image = getattr(material, "image", None)
    if image is None:
        return None
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    factor = getattr(material, "baseColorFactor", None)
    if factor is not None:
        factor = np.asarray(factor, dtype=np.float32)[:3]
        rgb = rgb * (factor / 255.0 if factor.max() > 1.0 else factor)
    return rgb


def _part_colours(part) -> np.ndarray:
    """(V, 3) float colours in [0, 1] of a part without texture image."""
    n = len(part.vertices)
    visual = part.visual
    if getattr(visual, "kind", None) == "vertex":
        return np.asarray(visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0
    if getattr(visual, "kind", None) == "face":  # per-face colours: average onto the vertices
        face_rgb = np.asarray(visual.face_colors, dtype=np.float64)[:, :3] / 255.0
        sums = np.zeros((n, 3))
        hits = np.zeros(n)
        np.add.at(sums, part.faces.reshape(-1), np.repeat(face_rgb, 3, axis=0))
        np.add.at(hits, part.faces.reshape(-1), 1.0)
        return sums / np.maximum(hits, 1.0)[:, None]
    material = getattr(visual, "material", None)
    colour = None
    if material is not None:
        colour = getattr(material, "baseColorFactor", None)
        if colour is None:
            colour = getattr(material, "main_color", None)
    if colour is None:
        return np.tile(_GREY, (n, 1))
    colour = np.asarray(colour, dtype=np.float64)[:3]
    return np.tile(colour / 255.0 if colour.max() > 1.0 else colour, (n, 1))


def load_glb(path: PathOrFile, device="cpu"):
    """Loads a GLB or glTF file as one mesh (the scene joined, node transforms applied).

    Args:
        path: .glb / .gltf path (a glTF's external buffers and images are found next to it), or a binary
            file object holding a GLB.
        device: where the mesh lives.
    Returns:
        Meshes with one mesh: verts (V, 3) float32, faces (F, 3) int64, TexturesUV or TexturesVertex.
    Raises:
        MeshFileError naming the file for a missing or unreadable file, or a scene without triangles.
    """
    import trimesh

    from inverse3d.renderer.mesh.textures import TexturesUV, TexturesVertex
    from inverse3d.structures import Meshes

    name = source_name(path)
    try:
        if isinstance(path, (str, os.PathLike)):
            if not Path(path).exists():
                raise MeshFileNotFoundError(name)
            scene = trimesh.load(os.fspath(path), force="scene")
        else:
            scene = trimesh.load(io.BytesIO(path.read()), file_type="glb", force="scene")
    except MeshFileError:
        raise
    except Exception as err:  # trimesh raises many types on bad files
        raise MeshFileError(name, f"cannot parse glTF ({type(err).__name__}: {err})") from err

    dumped = scene.dump() if hasattr(scene, "dump") else [scene]
    parts = [g for g in dumped if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    skipped = len(dumped) - len(parts)
    if skipped:
        warnings.warn(f"{name}: skipped {skipped} scene geometries without triangles (points, lines)", stacklevel=2)
    if not parts:
        raise MeshFileError(name, "has no triangle meshes")

    verts, faces, images, uv_rows, image_of_face, colours = [], [], [], [], [], []
    offset = 0
    for part in parts:
        v = np.asarray(part.vertices, dtype=np.float64)
        fc = np.asarray(part.faces, dtype=np.int64)
        if not np.isfinite(v).all():
            raise MeshFileError(name, "has non-finite vertex coordinates")
        image = _material_image(part.visual)
        verts.append(v)
        faces.append(fc + offset)
        if image is not None:
            images.append(image)
            uv_rows.append(np.asarray(part.visual.uv, dtype=np.float64).reshape(-1, 2))
            image_of_face.append(np.full(len(fc), len(images) - 1))
            colours.append(np.tile(image.reshape(-1, 3).mean(0), (len(v), 1)))
        else:
            uv_rows.append(np.zeros((len(v), 2)))
            image_of_face.append(np.full(len(fc), -1))
            colours.append(_part_colours(part))
        offset += len(v)

    verts_t = torch.from_numpy(np.concatenate(verts)).to(device=device, dtype=torch.float32)
    faces_np = np.concatenate(faces)
    faces_t = torch.from_numpy(faces_np).to(device)
    if not images:
        features = torch.from_numpy(np.concatenate(colours)).to(device=device, dtype=torch.float32)
        return Meshes(verts=[verts_t], faces=[faces_t], textures=TexturesVertex(verts_features=[features]))

    face_image = np.concatenate(image_of_face)
    verts_uvs = torch.from_numpy(np.concatenate(uv_rows)).to(torch.float32)
    if len(images) == 1 and (face_image == 0).all():
        texture = (torch.from_numpy(images[0]), faces_t.cpu(), verts_uvs)
    else:
        # Solid colour of each untextured face: its part's mean colour (one patch per part).
        face_part = np.concatenate([np.full(len(fc), k) for k, fc in enumerate(faces)])
        part_colour = np.stack([c.mean(0) for c in colours])
        texture = pack_texture_maps(
            [torch.from_numpy(im) for im in images],
            torch.from_numpy(part_colour).to(torch.float32),
            torch.from_numpy(face_image),
            torch.from_numpy(face_part),
            torch.from_numpy(faces_np),
            verts_uvs,
        )
    maps, faces_uvs, uvs = (x.to(device) for x in texture)
    textures = TexturesUV(maps=[maps], faces_uvs=[faces_uvs], verts_uvs=[uvs])
    return Meshes(verts=[verts_t], faces=[faces_t], textures=textures)
