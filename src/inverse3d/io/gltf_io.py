"""GLB / glTF scenes as one ``Meshes`` (``load_glb``), read with trimesh.

The whole scene is joined into one mesh with every node's transform applied (trimesh's ``Scene.dump``).
Textures: parts whose material has a base-colour texture sample it (times the material's base-colour factor);
the other parts take their vertex colours or their material's base colour. With at least one texture the
result is a ``TexturesUV`` (several images are packed side by side as in ``load_objs_as_meshes``; parts without
texture get a solid patch of their mean colour); without any, a ``TexturesVertex``.

Before trimesh sees the file, every file it refers to and every image it holds is checked here:

- buffer and image URIs resolve inside the file's folder (``inverse3d.io.references``): a buffer outside it is an
  error (the geometry is missing), an image outside it a warning; ``allow_external_files=True`` reads them;
- each image's size is read from its header and refused above ``max_texture_pixels`` (``inverse3d.io.images``),
  with a warning naming the file, the image and its size;
- a refused, missing or unreadable image is replaced by a 1x1 grey one, so that trimesh never decodes it and the
  parts that used it are grey (times their base-colour factor).

trimesh then reads the checked bytes only (through a resolver holding them), never the disk.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
import warnings
from pathlib import Path
from typing import Optional
from urllib.parse import unquote

import numpy as np
import torch

from inverse3d.io import images as images_mod
from inverse3d.io.errors import MeshFileError, PathOrFile, read_error, read_source
from inverse3d.io.obj_io import _clip, pack_texture_maps, packed_map_pixels
from inverse3d.io.references import EXTERNAL_HINT, resolve_reference

_GREY = np.array([0.5, 0.5, 0.5])
_JSON, _BIN = 0x4E4F534A, 0x004E4942


def _split_glb(data: bytes, name: str) -> tuple[dict, Optional[bytes]]:
    """(JSON document, BIN chunk or None) of a GLB file."""
    if len(data) < 20:
        raise MeshFileError(name, f"cannot parse glTF (truncated GLB: {len(data)} bytes, its header alone takes 20)")
    _, version, length = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise MeshFileError(name, f"cannot parse glTF (GLB version {version}; only glTF 2 is supported)")
    offset, doc, binary = 12, None, None
    while offset + 8 <= min(length, len(data)):
        size, kind = struct.unpack_from("<II", data, offset)
        chunk = data[offset + 8 : offset + 8 + size]
        if len(chunk) < size:
            raise MeshFileError(name, f"cannot parse glTF (truncated GLB: a chunk declares {size} bytes, "
                                      f"{len(chunk)} are left)")
        if kind == _JSON and doc is None:
            doc = _parse_json(chunk, name)
        elif kind == _BIN and binary is None:
            binary = chunk
        offset += 8 + size + (-size % 4)
    if doc is None:
        raise MeshFileError(name, "cannot parse glTF (a GLB file without a JSON chunk)")
    return doc, binary


def _parse_json(text: bytes, name: str) -> dict:
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise MeshFileError(name, f"cannot parse glTF (not a GLB file, and not glTF JSON: {str(err)[:80]})") from None
    if not isinstance(doc, dict):
        raise MeshFileError(name, "cannot parse glTF (the JSON document is not an object)")
    return doc


def _join_glb(doc: dict, binary: Optional[bytes]) -> bytes:
    """A GLB file from its JSON document and BIN chunk."""
    text = json.dumps(doc).encode("utf-8")
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), _JSON) + text
    if binary is not None:
        chunks += struct.pack("<II", len(binary) + (-len(binary) % 4), _BIN) + binary + b"\0" * (-len(binary) % 4)
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunks)) + chunks


def _data_uri(uri: str) -> Optional[bytes]:
    """The bytes of a ``data:...;base64,...`` URI, or None for a file name."""
    if not uri.startswith("data:"):
        return None
    head, _, payload = uri.partition(",")
    try:
        return base64.b64decode(payload) if head.endswith(";base64") else unquote(payload).encode("latin-1")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return b""


class _CheckedFiles:
    """A trimesh resolver that serves only the files this module read and checked (never the disk)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def get(self, name: str) -> bytes:
        if name not in self.files:
            raise FileNotFoundError(name)
        return self.files[name]

    __getitem__ = get

    def __contains__(self, name: str) -> bool:
        return name in self.files

    def keys(self):
        return iter(self.files)

    def namespaced(self, namespace: str) -> "_CheckedFiles":
        return self

    def write(self, name: str, data) -> None:
        raise PermissionError(f"{name}: inverse3d reads glTF files, it does not write through their resolver")


def _checked_document(data: bytes, name: str, root: Path, allow_external: bool, budget: int):
    """Reads a GLB / glTF file's references and image headers (see the module docstring).

    Returns:
        (file bytes for trimesh, possibly rewritten; file type "glb" or "gltf"; resolver with the checked files).
    """
    if not data.strip():
        raise MeshFileError(name, f"cannot parse glTF (the file is empty: {len(data)} bytes)")
    is_glb = data[:4] == b"glTF"
    doc, binary = _split_glb(data, name) if is_glb else (_parse_json(data, name), None)
    files: dict[str, bytes] = {}
    buffers: list[Optional[bytes]] = []
    for i, buffer in enumerate(doc.get("buffers") or []):
        uri = buffer.get("uri") if isinstance(buffer, dict) else None
        if not isinstance(uri, str):
            buffers.append(binary if is_glb and i == 0 else None)
            continue
        inline = _data_uri(uri)
        if inline is not None:
            buffers.append(inline)
            continue
        path, _ = resolve_reference(root, root, unquote(uri), allow_external)
        if path is None:
            raise MeshFileError(name, f"buffer {i} ({_clip(repr(uri), 240)}) is outside the file's folder {root}; refused "
                                      f"({EXTERNAL_HINT})")
        if not path.is_file():
            raise MeshFileError(name, f"buffer {i}: file {path} not found")
        try:
            files[uri] = path.read_bytes()
        except OSError as err:
            raise read_error(str(path), err) from err
        buffers.append(files[uri])

    changed = False
    grey = "data:image/png;base64," + base64.b64encode(images_mod.placeholder_png()).decode("ascii")
    for i, image in enumerate(doc.get("images") or []):
        if not isinstance(image, dict):
            continue
        label, blob, problem = f"image {i}", None, None
        uri = image.get("uri")
        if isinstance(uri, str):
            blob = _data_uri(uri)
            if blob is None:  # a file next to the glTF
                label = f"image {i} ({_clip(repr(uri), 240)})"
                path, _ = resolve_reference(root, root, unquote(uri), allow_external)
                if path is None:
                    problem = f"is outside the file's folder {root}; refused ({EXTERNAL_HINT})"
                elif not path.is_file():
                    problem = f"not found ({path})"
                else:
                    try:
                        blob = files[uri] = path.read_bytes()
                    except OSError as err:
                        problem = read_error(str(path), err).problem
        elif "bufferView" in image:
            try:
                view = doc["bufferViews"][image["bufferView"]]
                source = buffers[view["buffer"]]
                start = int(view.get("byteOffset", 0))
                blob = source[start : start + int(view["byteLength"])]
            except (KeyError, IndexError, TypeError, ValueError):
                problem = "has a bufferView that does not exist"
        if problem is None and blob is not None:
            try:
                images_mod.open_image(bytes(blob), budget, name=label).close()
            except images_mod.ImageTooLargeError as err:
                problem = f"refused: {err.problem}"
            except MeshFileError as err:
                problem = err.problem
        if problem is not None:
            warnings.warn(f"{name}: texture {label} {problem}; its parts are grey", stacklevel=4)
            doc["images"][i] = {"uri": grey, "mimeType": "image/png"}
            changed = True
    if changed:
        data = _join_glb(doc, binary) if is_glb else json.dumps(doc).encode("utf-8")
    return data, "glb" if is_glb else "gltf", _CheckedFiles(files)


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


def load_glb(path: PathOrFile, device="cpu", *, allow_external_files: bool = False,
             max_texture_pixels: Optional[int] = None):
    """Loads a GLB or glTF file as one mesh (the scene joined, node transforms applied).

    Args:
        path: .glb / .gltf path (a glTF's external buffers and images are found next to it), or a binary
            file object holding a GLB.
        device: where the mesh lives.
        allow_external_files: read buffers and images whose URIs lead outside the file's folder (by default a
            buffer there is an error, an image a warning; see the module docstring).
        max_texture_pixels: images with more pixels are refused from their header, with a warning (None:
            ``$INVERSE3D_MAX_TEXTURE_PIXELS``, else 64 Mpx; see ``inverse3d.io.images``).
    Returns:
        Meshes with one mesh: verts (V, 3) float32, faces (F, 3) int64, TexturesUV or TexturesVertex.
    Raises:
        MeshFileError naming the file for a missing or unreadable file, or a scene without triangles.
    """
    import trimesh

    from inverse3d.renderer.mesh.textures import TexturesUV, TexturesVertex
    from inverse3d.structures import Meshes

    budget = images_mod.max_texture_pixels(max_texture_pixels)
    data, name, folder = read_source(path)
    data, file_type, resolver = _checked_document(data, name, folder or Path("."), allow_external_files, budget)
    try:
        scene = trimesh.load(io.BytesIO(data), file_type=file_type, resolver=resolver, force="scene")
    except Exception as err:  # trimesh raises many types on bad files
        text = str(err).splitlines()[0] if str(err) else ""
        raise MeshFileError(name, f"cannot parse glTF ({type(err).__name__}: {text[:200]})") from err

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

    if len(images) > 1 and packed_map_pixels(images, len(parts)) > budget:
        warnings.warn(f"{name}: packing its {len(images)} texture images into one map would take "
                      f"{packed_map_pixels(images, len(parts))} pixels, over the budget of {budget} "
                      f"(max_texture_pixels); the textured parts use their images' mean colours instead", stacklevel=2)
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
