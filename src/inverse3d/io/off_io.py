"""ASCII OFF meshes with vertex colours (PyTorch3D's ``io.off_io``).

A file is ``OFF`` (the keyword may share its line with the counts), then ``V F E``, then V lines ``x y z [r g b [a]]``
and F lines ``n i_1 .. i_n [r g b [a]]``. Polygons are fan-triangulated, all first triangles of the polygons first,
then all second ones, ... (PyTorch3D's order). Colours written without a decimal point are taken as 0..255 and
divided by 255. Vertex colours become a ``TexturesVertex``; face colours are read but dropped with a warning (they
need ``TexturesAtlas``). ``#`` starts a comment.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from inverse3d.io.errors import MeshFileError, PathOrFile, read_source
from inverse3d.io.pluggable_formats import MeshFormatInterpreter, endswith
from inverse3d.io.utils import PathOrStr, local_path

Device = str | torch.device


def _rows(lines: list[bytes], start: int, count: int, name: str, what: str) -> tuple[list[list[bytes]], int]:
    """``count`` non-empty lines from ``start`` split into tokens; returns them and the next line index."""
    rows = []
    i = start
    while len(rows) < count:
        if i >= len(lines):
            raise MeshFileError(name, f"ends after {len(rows)} of {count} {what}")
        tokens = lines[i].split(b"#", 1)[0].split()
        i += 1
        if tokens:
            rows.append(tokens)
    return rows, i


def _numbers(rows: list[list[bytes]], name: str, what: str) -> np.ndarray:
    """Rows of equal length as a float64 array (R, C)."""
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise MeshFileError(name, f"{what} lines have different numbers of values ({sorted(widths)})")
    try:
        return np.array([[float(t) for t in r] for r in rows], dtype=np.float64).reshape(len(rows), -1)
    except ValueError as err:
        raise MeshFileError(name, f"{what} hold a value that is not a number ({err})") from None


def read_off(f: PathOrFile) -> dict:
    """Parses an OFF file.

    Returns:
        {"verts" (V, 3) float64, "verts_colors" (V, C) or None, "faces" (F, 3) int64, "faces_colors" (F, C) or
        None}, C in {3, 4}.
    Raises:
        MeshFileError naming the file for a bad header, missing or malformed rows, out-of-range indices.
    """
    data, name, _ = read_source(f)
    lines = data.splitlines()
    i = 0
    while i < len(lines) and not lines[i].split(b"#", 1)[0].strip():
        i += 1
    if i == len(lines):
        raise MeshFileError(name, "is empty, not an OFF file")
    header = lines[i].split(b"#", 1)[0].strip()
    i += 1
    if header[:3].lower() == b"off":
        header = header[3:].strip()
    if not header:
        counts, i = _rows(lines, i, 1, name, "count lines")
        header_tokens = counts[0]
    else:
        header_tokens = header.split()
    try:
        n_verts, n_faces = int(header_tokens[0]), int(header_tokens[1])
    except (ValueError, IndexError):
        raise MeshFileError(name, f"invalid counts line {b' '.join(header_tokens)!r}") from None
    if n_verts < 0 or n_faces < 0 or len(header_tokens) > 3:
        raise MeshFileError(name, f"invalid counts line {b' '.join(header_tokens)!r}")

    vert_rows, i = _rows(lines, i, n_verts, name, "vertex lines")
    verts_data = _numbers(vert_rows, name, "vertex") if n_verts else np.zeros((0, 3))
    if verts_data.shape[1] not in (3, 6, 7):
        raise MeshFileError(name, f"vertex lines have {verts_data.shape[1]} values (3, 6 or 7 expected)")
    verts, verts_colors = verts_data[:, :3], None
    if verts_data.shape[1] > 3:
        integer = not any(b"." in t for t in vert_rows[0][3:])
        verts_colors = verts_data[:, 3:] / (255.0 if integer else 1.0)

    face_rows, i = _rows(lines, i, n_faces, name, "face lines")
    if any(lines[j].split(b"#", 1)[0].strip() for j in range(i, len(lines))):
        raise MeshFileError(name, f"has extra data after the {n_faces} faces")
    faces = np.zeros((0, 3), dtype=np.int64)
    faces_colors = None
    if n_faces:
        try:
            sizes = np.array([int(r[0]) for r in face_rows], dtype=np.int64)
        except ValueError:
            raise MeshFileError(name, "a face line does not start with its number of vertices") from None
        if (sizes < 3).any():
            raise MeshFileError(name, "faces must have at least 3 vertices")
        n_colours = {len(r) - 1 - s for r, s in zip(face_rows, sizes)}
        if len(n_colours) > 1 or not n_colours <= {0, 3, 4}:
            raise MeshFileError(name, f"faces have {sorted(n_colours)} colour values (0, 3 or 4 expected)")
        (c,) = n_colours
        try:
            corners = [np.array([int(t) for t in r[1 : 1 + s]], dtype=np.int64) for r, s in zip(face_rows, sizes)]
        except ValueError:
            raise MeshFileError(name, "a face holds an index that is not an integer") from None
        colours = _numbers([r[1 + s :] for r, s in zip(face_rows, sizes)], name, "face colour") if c else None
        # fan triangles, grouped by their position in the fan (PyTorch3D's order)
        tris, tri_colours = [], []
        for k in range(int(sizes.max()) - 2):
            has = np.flatnonzero(sizes > k + 2)
            tris.append(np.stack([np.array([corners[j][0], corners[j][k + 1], corners[j][k + 2]]) for j in has]))
            if colours is not None:
                tri_colours.append(colours[has])
        faces = np.concatenate(tris)
        if colours is not None:
            integer = not any(b"." in t for t in face_rows[0][1 + sizes[0] :])
            faces_colors = np.concatenate(tri_colours) / (255.0 if integer else 1.0)
        bad = np.flatnonzero((faces < 0) | (faces >= n_verts))
        if bad.size:
            raise MeshFileError(name, f"face index {faces.reshape(-1)[bad[0]]} out of range ({n_verts} vertices)")
    return {"verts": verts, "verts_colors": verts_colors, "faces": faces, "faces_colors": faces_colors}


def save_off(
    f: PathOrFile,
    verts: torch.Tensor,
    faces: Optional[torch.Tensor] = None,
    verts_colors: Optional[torch.Tensor] = None,
    decimal_places: Optional[int] = None,
) -> None:
    """Writes an ASCII OFF file (header ``off``, as PyTorch3D writes it).

    Args:
        f: path or binary file object.
        verts: (V, 3) float positions.
        faces: (F, 3) int64 indices into verts, or None.
        verts_colors: (V, 3) or (V, 4) float colours written after each vertex, or None.
        decimal_places: digits after the point (None: "%f").
    Raises:
        ValueError: wrong shapes or indices out of range.
    """
    v = verts.detach().cpu().to(torch.float64)
    if v.dim() != 2 or v.shape[1] != 3:
        raise ValueError(f"save_off: verts must have shape (V, 3); got {tuple(v.shape)}")
    fc = None if faces is None or faces.numel() == 0 else faces.detach().cpu().to(torch.int64)
    if fc is not None:
        if fc.dim() != 2 or fc.shape[1] != 3:
            raise ValueError(f"save_off: faces must have shape (F, 3); got {tuple(fc.shape)}")
        if fc.min() < 0 or fc.max() >= v.shape[0]:
            raise ValueError(f"save_off: faces has indices outside [0, {v.shape[0]})")
    if verts_colors is not None:
        colours = verts_colors.detach().cpu().to(torch.float64)
        if colours.dim() != 2 or colours.shape[1] not in (3, 4) or colours.shape[0] != v.shape[0]:
            raise ValueError(f"save_off: verts_colors must have shape ({v.shape[0]}, 3 or 4); got "
                             f"{tuple(colours.shape)}")
        v = torch.cat((v, colours), 1)
    fmt = "%f" if decimal_places is None else f"%.{int(decimal_places)}f"
    n_faces = 0 if fc is None else fc.shape[0]
    text = [f"off\n{v.shape[0]} {n_faces} 0\n"]
    if v.shape[0]:
        row = " ".join([fmt] * v.shape[1]) + "\n"
        text.append((row * v.shape[0]) % tuple(v.reshape(-1).tolist()))
    if fc is not None:
        text.append(("3 %d %d %d\n" * n_faces) % tuple(fc.reshape(-1).tolist()))
    payload = "".join(text).encode("ascii")
    if isinstance(f, (str, os.PathLike)):
        Path(f).write_bytes(payload)
    else:
        f.write(payload)


class MeshOffFormat(MeshFormatInterpreter):
    """OFF meshes with vertex colours (``TexturesVertex``)."""

    def __init__(self) -> None:
        self.known_suffixes = (".off",)

    def read(self, path: PathOrStr, include_textures: bool, device: Device, path_manager: Any, **kwargs: Any):
        if not endswith(path, self.known_suffixes):
            return None
        from inverse3d.renderer.mesh.textures import TexturesVertex
        from inverse3d.structures import Meshes

        off = read_off(local_path(path, path_manager))
        verts = torch.as_tensor(off["verts"], dtype=torch.float32, device=device)
        faces = torch.as_tensor(off["faces"], dtype=torch.int64, device=device)
        textures = None
        if include_textures and off["verts_colors"] is not None:
            if off["faces_colors"] is not None:
                warnings.warn("Faces colors ignored because vertex colors provided too.", stacklevel=2)
            textures = TexturesVertex([torch.as_tensor(off["verts_colors"], dtype=torch.float32, device=device)])
        elif include_textures and off["faces_colors"] is not None:
            warnings.warn("OFF face colours need TexturesAtlas, which inverse3d does not have yet; ignored.",
                          stacklevel=2)
        return Meshes(verts=[verts], faces=[faces], textures=textures)

    def save(
        self,
        data: Any,
        path: PathOrStr,
        path_manager: Any,
        binary: Optional[bool],
        decimal_places: Optional[int] = None,
        include_textures: bool = True,
        **kwargs: Any,
    ) -> bool:
        if not endswith(path, self.known_suffixes):
            return False
        from inverse3d.renderer.mesh.textures import TexturesVertex

        verts, faces = data.verts_list()[0], data.faces_list()[0]
        colours = None
        if include_textures and isinstance(data.textures, TexturesVertex):
            colours = data.textures.verts_features_list()[0]
        save_off(path, verts, faces, verts_colors=colours, decimal_places=decimal_places)
        return True
