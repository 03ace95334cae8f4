"""PLY meshes and point clouds (``load_ply`` / ``save_ply`` with PyTorch3D's API) and ``load_pointcloud``.

PLY parsing (ASCII and binary, any property types) is trimesh's; on top we check the result against the
header (a truncated file is an error, not a smaller mesh), keep the file's face order and fan-triangulate
polygons as ``load_obj`` does, and reject non-finite coordinates and out-of-range face indices with
``MeshFileError``. ``save_ply`` writes the file itself (float32 vertices, optional normals, uchar colours,
``uchar int`` face lists).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from inverse3d.io.errors import MeshFileError, PathOrFile, numpy_problem, read_source
from inverse3d.io.obj_io import fan_triangulate


_TYPE_SIZES = {"char": 1, "int8": 1, "uchar": 1, "uint8": 1, "short": 2, "int16": 2, "ushort": 2, "uint16": 2,
               "int": 4, "int32": 4, "uint": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8, "float64": 8}


@dataclass
class _Element:
    """One ``element`` of a PLY header: its properties as (name, type) for scalars, (name, count type, item type)
    for lists."""

    name: str
    count: int
    props: list = field(default_factory=list)

    @property
    def lists(self) -> list[int]:
        """Positions of the list properties."""
        return [i for i, p in enumerate(self.props) if len(p) == 3]


@dataclass
class _Header:
    format: str  # "ascii", "binary_little_endian" or "binary_big_endian"
    elements: list
    body_start: int  # byte offset of the data after end_header
    lines: int  # lines of the header, end_header included

    def counts(self) -> dict[str, int]:
        return {e.name: e.count for e in self.elements}

    def summary(self) -> str:
        return ", ".join(f"{e.count} {e.name}" for e in self.elements)


def _parse_header(data: bytes, name: str) -> _Header:
    """The header of a PLY file: format, elements and their properties (MeshFileError naming the line if
    malformed)."""
    if not data.startswith(b"ply"):
        raise MeshFileError(name, "not a PLY file (it does not start with 'ply')")
    end = data.find(b"end_header")
    if end < 0:
        raise MeshFileError(name, "PLY header has no end_header line")
    newline = data.find(b"\n", end)
    body_start = len(data) if newline < 0 else newline + 1
    text = data[:end].decode("ascii", errors="replace").replace("\r", "")
    fmt, elements = None, []
    header_lines = text.split("\n")
    for number, line in enumerate(header_lines, start=1):
        parts = line.split()
        if not parts or parts[0] in ("ply", "comment", "obj_info"):
            continue
        bad = MeshFileError(name, f"malformed PLY header line {line.strip()[:60]!r}", line=number)
        if parts[0] == "format":
            if len(parts) < 2 or parts[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
                raise bad
            fmt = parts[1]
        elif parts[0] == "element":
            try:
                count = int(parts[2])
            except (IndexError, ValueError):
                raise bad from None
            if count < 0:
                raise MeshFileError(name, f"element {parts[1]} has a negative count {count}", line=number)
            elements.append(_Element(parts[1], count))
        elif parts[0] == "property":
            if not elements:
                raise MeshFileError(name, "property before any element", line=number)
            if len(parts) == 5 and parts[1] == "list" and parts[2] in _TYPE_SIZES and parts[3] in _TYPE_SIZES:
                elements[-1].props.append((parts[4], parts[2], parts[3]))
            elif len(parts) == 3 and parts[1] in _TYPE_SIZES:
                elements[-1].props.append((parts[2], parts[1]))
            else:
                raise bad
    if fmt is None:
        raise MeshFileError(name, "PLY header has no format line")
    if "vertex" not in [e.name for e in elements]:
        raise MeshFileError(name, "PLY header declares no vertex element")
    return _Header(fmt, elements, body_start, len(header_lines))


def _check_binary_size(header: _Header, data: bytes, name: str) -> None:
    """A binary body shorter than the header's elements need (counting lists as empty) is truncated."""
    need = 0
    for e in header.elements:
        need += e.count * sum(_TYPE_SIZES[p[1]] for p in e.props)  # scalars, and the count field of lists
    have = len(data) - header.body_start
    if have < need:
        raise MeshFileError(name, f"truncated: the header declares {header.summary()}, which need at least {need} "
                                  f"bytes of data, but the file holds {have}")


def _check_ascii_body(header: _Header, data: bytes, name: str) -> bytes:
    """Checks an ASCII body line by line against the header: one element per line, each with as many numbers as
    its properties (and list lengths) say; the error names the line (truncated files, lists of the wrong length,
    extra or missing values, words that are not numbers).

    Returns:
        the file, with blank lines and carriage returns of the body removed when it has any (trimesh's parser
        does not take them).
    """
    from inverse3d.io.obj_io import _parse_numbers, _token_spans

    body = data[header.body_start:]
    buf = np.empty(len(body) + 1, dtype=np.uint8)
    buf[:-1] = np.frombuffer(body, dtype=np.uint8)
    buf[-1] = 10
    buf[(buf == 13) | (buf == 9) | (buf == 11) | (buf == 12)] = 32
    nl = np.flatnonzero(buf == 10)
    start, end, tline, counts = _token_spans(buf, nl.size)
    line_first = np.concatenate([[0], nl[:-1] + 1])
    filled = np.flatnonzero(counts > 0)  # body lines holding data
    token_offset = np.concatenate([[0], np.cumsum(counts)])  # first token of each body line
    pos = 0
    for e in header.elements:
        rows = filled[pos : pos + e.count]
        pos += e.count
        if rows.size < e.count:
            raise MeshFileError(name, f"truncated: the data ends after {rows.size} of {e.count} {e.name} rows "
                                      f"(the header declares {header.summary()})")
        if e.count == 0:
            continue

        def where(k: int) -> int:
            return header.lines + int(rows[k]) + 1

        got = counts[rows]
        a, b = line_first[rows[0]], nl[rows[-1]]
        tokens = int(token_offset[rows[-1] + 1] - token_offset[rows[0]])
        values = _parse_numbers(buf[a:b].tobytes(), np.float64, tokens)
        if values is None:  # find the word that is not a number
            for k, row in enumerate(rows):
                for token in buf[line_first[row] : nl[row]].tobytes().split():
                    try:
                        float(token)
                    except ValueError:
                        raise MeshFileError(name, f"{e.name} {k}: {token[:20].decode('ascii', 'replace')!r} is not "
                                                  f"a number", line=where(k)) from None
            raise MeshFileError(name, f"{e.name} values cannot be parsed")  # pragma: no cover - safety net
        first = token_offset[rows] - token_offset[rows[0]]  # (count,) first value of each row in values
        lists = e.lists
        if not lists:
            expected = np.full(rows.size, len(e.props))
        elif len(lists) == 1 and (got > lists[0]).all():  # one list per row (faces): vectorised
            n = values[first + lists[0]]
            bad = np.flatnonzero((n < 0) | (n != np.round(n)) | (n > 2**31))
            if bad.size:
                k = int(bad[0])
                raise MeshFileError(name, f"{e.name} {k}: list length {n[k]:g} is not a whole number of entries",
                                    line=where(k))
            expected = len(e.props) + n.astype(np.int64)
        else:  # several lists per row (rare): walk them
            expected = np.empty(rows.size, dtype=np.int64)
            for k in range(rows.size):
                i, row_values = 0, values[first[k] : first[k] + got[k]]
                for p in e.props:
                    if len(p) == 3:
                        length = row_values[i] if i < row_values.size else 0.0
                        i += 1 + (int(length) if 0 <= length <= 2**31 else 0)
                    else:
                        i += 1
                expected[k] = i
        bad = np.flatnonzero(got != expected)
        if bad.size:
            k = int(bad[0])
            if not lists:
                problem = f"{e.name} {k} has {got[k]} values, the header declares {len(e.props)} properties"
            else:
                problem = (f"{e.name} {k} has {got[k]} values where its list lengths call for {expected[k]} "
                           f"(a list longer or shorter than its length)")
            raise MeshFileError(name, problem, line=where(k))
    blank_inside = filled.size > 0 and not (counts[: filled[-1] + 1] > 0).all()
    if b"\r" not in body and not blank_inside:
        return data
    lines = body.replace(b"\r", b" ").split(b"\n")
    return data[: header.body_start] + b"\n".join(line for line in lines if line.strip()) + b"\n"


def _colours_01(colours: np.ndarray) -> np.ndarray:
    """(N, C>=3) colours as float in [0, 1], RGB only (uint8 and 0..255 floats are divided by 255)."""
    rgb = np.asarray(colours)[:, :3]
    if rgb.dtype == np.uint8 or (rgb.size and float(np.nanmax(rgb)) > 1.0):
        return rgb.astype(np.float64) / 255.0
    return rgb.astype(np.float64)


def read_ply(f: PathOrFile) -> dict:
    """Parses a PLY file into numpy arrays.

    Returns:
        {"name", "verts" (V, 3) float64, "faces" (F, 3) int64 (F may be 0), "normals" (V, 3) or None,
         "colors" (V, 3) float in [0, 1] or None, "has_faces": whether the file declares a face element}.
    Raises:
        MeshFileError naming the file for unreadable, truncated or invalid content.
    """
    import trimesh

    data, name, _ = read_source(f)
    header = _parse_header(data, name)
    declared = header.counts()
    if header.format == "ascii":
        data = _check_ascii_body(header, data, name)
    else:
        _check_binary_size(header, data, name)
    try:
        parsed = trimesh.exchange.ply.load_ply(io.BytesIO(data))
        verts = np.asarray(parsed.get("vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    except Exception as err:  # trimesh raises ValueError, KeyError, struct errors, ... on bad files
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "unexpected length" in text:
            raise MeshFileError(name, "binary data does not match the header (truncated, or lists of the wrong "
                                      "length)") from err
        raise MeshFileError(name, f"cannot parse PLY ({type(err).__name__}: {text[:200]})") from err
    if verts.shape[0] != declared["vertex"]:
        raise MeshFileError(name, f"header declares {declared['vertex']} vertices but the file holds "
                                  f"{verts.shape[0]} (truncated or malformed)")
    bad = np.flatnonzero(~np.isfinite(verts).all(axis=1))
    if bad.size:
        raise MeshFileError(name, f"vertex {bad[0]} has a non-finite coordinate ({verts[bad[0]].tolist()})")

    faces = np.zeros((0, 3), dtype=np.int64)
    n_faces = declared.get("face", 0)
    if n_faces:
        raw = ((parsed.get("metadata") or {}).get("_ply_raw") or {}).get("face", {}).get("data", {})
        lists = raw.get("vertex_indices", raw.get("vertex_index")) if isinstance(raw, dict) else None
        if lists is None:  # layout we do not know: trust trimesh's triangulation
            polys = [np.asarray(p) for p in np.asarray(parsed.get("faces", np.zeros((0, 3))))]
        elif isinstance(lists, np.ndarray) and lists.dtype != object:
            polys = list(lists.reshape(lists.shape[0], -1))
        else:
            polys = [np.asarray(p).reshape(-1) for p in lists]
        if len(polys) != n_faces:
            raise MeshFileError(name, f"header declares {n_faces} faces but the file holds {len(polys)}")
        counts = np.array([len(p) for p in polys], dtype=np.int64)
        short = np.flatnonzero(counts < 3)
        if short.size:
            raise MeshFileError(name, f"face {short[0]} has {counts[short[0]]} vertices (at least 3 needed)")
        flat = np.concatenate(polys).astype(np.int64) if polys else np.zeros(0, dtype=np.int64)
        corners, _ = fan_triangulate(counts)
        faces = flat[corners]
        out = np.flatnonzero((faces < 0) | (faces >= verts.shape[0]))
        if out.size:
            value = faces.reshape(-1)[out[0]]
            raise MeshFileError(name, f"face index {value} out of range ({verts.shape[0]} vertices)")

    normals = parsed.get("vertex_normals")
    if normals is not None:
        normals = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
        if normals.shape[0] != verts.shape[0]:
            normals = None
    colours = parsed.get("vertex_colors")
    if colours is not None:
        colours = _colours_01(np.asarray(colours).reshape(verts.shape[0], -1))
    return {"name": name, "verts": verts, "faces": faces, "normals": normals, "colors": colours,
            "has_faces": "face" in declared}


def load_ply(f: PathOrFile, *, path_manager=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Loads the vertices and triangles of a PLY file (PyTorch3D's ``load_ply``).

    Args:
        f: path or binary file object.
        path_manager: ignored (PyTorch3D compatibility).
    Returns:
        verts (V, 3) float32 and faces (F, 3) int64 (polygons fan-triangulated; (0, 3) for a point cloud).
    Raises:
        MeshFileError naming the file (MeshFileNotFoundError when missing).
    """
    ply = read_ply(f)
    return (torch.from_numpy(ply["verts"]).to(torch.float32),
            torch.from_numpy(np.ascontiguousarray(ply["faces"])).to(torch.int64))


def _ply_array(name: str, x, cols: int, floating: bool) -> Optional[np.ndarray]:
    if x is None:
        return None
    x = torch.as_tensor(x).detach()
    if x.numel() and (x.dim() != 2 or x.shape[1] != cols):
        raise ValueError(f"save_ply: {name} should be empty or of shape (n, {cols}), got {tuple(x.shape)}")
    if floating and x.numel() and not torch.isfinite(x).all():
        raise ValueError(f"save_ply: {name} contains NaN or inf")
    return x.cpu().reshape(-1, cols).numpy()


def save_ply(
    f: PathOrFile,
    verts: torch.Tensor,
    faces: Optional[torch.Tensor] = None,
    verts_normals: Optional[torch.Tensor] = None,
    ascii: bool = False,
    decimal_places: Optional[int] = None,
    path_manager=None,
    *,
    colors: Optional[torch.Tensor] = None,
) -> None:
    """Writes a mesh or point cloud to a PLY file (PyTorch3D's ``save_ply``, plus vertex colours).

    Args:
        f: path or binary file object.
        verts: (V, 3) float positions (written as float32).
        faces: (F, 3) int64 indices into verts, or None for a point cloud (no face element).
        verts_normals: (V, 3) float normals, or None.
        ascii: ASCII instead of binary little-endian.
        decimal_places: digits after the point in ASCII files (None: "%f").
        path_manager: ignored (PyTorch3D compatibility).
        colors: (V, 3) float RGB in [0, 1] (written as uchar red/green/blue), or None.
    Raises:
        ValueError for wrong shapes, NaN/inf, indices out of range.
    """
    v = _ply_array("verts", verts, 3, True)
    n = v.shape[0]
    fc = _ply_array("faces", faces, 3, False)
    nrm = _ply_array("verts_normals", verts_normals, 3, True)
    col = _ply_array("colors", colors, 3, True)
    for label, arr in (("verts_normals", nrm), ("colors", col)):
        if arr is not None and arr.shape[0] != n:
            raise ValueError(f"save_ply: {label} has {arr.shape[0]} rows for {n} vertices")
    if fc is not None:
        fc = fc.astype(np.int64)
        if fc.size and (fc.min() < 0 or fc.max() >= n):
            raise ValueError(f"save_ply: faces has indices outside [0, {n}) ({n} vertices)")

    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    columns = [v]
    if nrm is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
        columns.append(nrm)
    if col is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        columns.append(np.clip(np.round(col * 255.0), 0, 255))
    header = ["ply", f"format {'ascii' if ascii else 'binary_little_endian'} 1.0", f"element vertex {n}"]
    header += [f"property {'float' if t == '<f4' else 'uchar'} {name}" for name, t in fields]
    if fc is not None:
        header += [f"element face {fc.shape[0]}", "property list uchar int vertex_index"]
    header.append("end_header")
    out = io.BytesIO()
    out.write(("\n".join(header) + "\n").encode("ascii"))

    if ascii:
        fmt = "%f" if decimal_places is None else f"%.{int(decimal_places)}f"
        row_fmt = " ".join([fmt] * 3 * (1 + (nrm is not None)) + ["%d"] * 3 * (col is not None)) + "\n"
        if n:
            table = np.concatenate([c.astype(np.float64) for c in columns], axis=1)
            out.write(((row_fmt * n) % tuple(table.reshape(-1).tolist())).encode("ascii"))
        if fc is not None and fc.shape[0]:
            out.write((("3 %d %d %d\n" * fc.shape[0]) % tuple(fc.reshape(-1).tolist())).encode("ascii"))
    else:
        table = np.empty(n, dtype=fields)
        values = np.concatenate(columns, axis=1)  # (V, number of fields)
        for k, (name, _) in enumerate(fields):
            table[name] = values[:, k]
        out.write(table.tobytes())
        if fc is not None and fc.shape[0]:
            face_rows = np.empty(fc.shape[0], dtype=[("n", "u1"), ("idx", "<i4", (3,))])
            face_rows["n"] = 3
            face_rows["idx"] = fc
            out.write(face_rows.tobytes())

    payload = out.getvalue()
    if isinstance(f, (str, os.PathLike)):
        Path(f).write_bytes(payload)
    else:
        f.write(payload)


_NPZ_KEYS = ("points", "xyz", "features", "colors", "rgb", "normals")


def _points_from_array(name: str, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points)
    if points.dtype.kind not in "biuf":
        raise MeshFileError(name, f"points should be numbers, got an array of dtype {points.dtype}")
    if points.ndim != 2 or points.shape[1] != 3:
        raise MeshFileError(name, f"points should have shape (N, 3), got {points.shape}")
    if points.shape[0] == 0:
        raise MeshFileError(name, "has no points")
    bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
    if bad.size:
        raise MeshFileError(name, f"point {bad[0]} has a non-finite coordinate ({points[bad[0]].tolist()})")
    return points.astype(np.float64)


def read_pointcloud(path: PathOrFile) -> dict:
    """Reads a point cloud (PLY, NPZ or NPY) into numpy arrays.

    Returns:
        {"name", "points" (P, 3), "normals" (P, 3) or None, "features" (P, C) or None (colours in [0, 1]),
         "features_are_colors": bool}.
    """
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(getattr(path, "name", "<file>"))
    suffix = Path(name).suffix.lower()
    if suffix == ".ply":
        ply = read_ply(path)
        points = _points_from_array(name, ply["verts"])
        return {"name": name, "points": points, "normals": ply["normals"], "features": ply["colors"],
                "features_are_colors": ply["colors"] is not None}
    if suffix not in (".npz", ".npy"):
        raise MeshFileError(name, f"unsupported point cloud suffix {suffix!r} (expected .ply, .npz or .npy)")
    data, name, _ = read_source(path, expected="a point cloud file")
    if not data:
        raise MeshFileError(name, f"is empty (0 bytes), not a {suffix} file")
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if suffix == ".npz":  # members are read lazily: read the ones used now, inside this try
            if not hasattr(loaded, "files"):
                raise ValueError("not an NPZ archive")
            loaded = {k: (loaded[k] if k in _NPZ_KEYS else None) for k in loaded.files}
    except Exception as err:
        what = "a NumPy .npz archive" if suffix == ".npz" else "a NumPy .npy array"
        raise MeshFileError(name, numpy_problem(data[:8], what, err)) from err
    normals = features = None
    are_colors = False
    if suffix == ".npy":
        arr = np.asarray(loaded)
        if arr.ndim != 2 or arr.shape[1] not in (3, 6):
            raise MeshFileError(name, f"expected an (N, 3) or (N, 6) array of xyz[rgb], got shape {arr.shape}")
        points = _points_from_array(name, arr[:, :3])
        if arr.shape[1] == 6:
            features, are_colors = _colours_01(arr[:, 3:]), True
    else:
        keys = list(loaded.keys())
        key = next((k for k in ("points", "xyz") if k in keys), None)
        if key is None:
            raise MeshFileError(name, f"has no 'points' or 'xyz' array (keys: {keys})")
        points = _points_from_array(name, loaded[key])
        for k in ("features", "colors", "rgb"):
            if k in keys:
                features = np.asarray(loaded[k])
                if features.dtype.kind not in "biuf":
                    raise MeshFileError(name, f"'{k}' should be numbers, got an array of dtype {features.dtype}")
                if features.ndim != 2 or features.shape[0] != points.shape[0]:
                    raise MeshFileError(name, f"'{k}' should have shape ({points.shape[0]}, C), got {features.shape}")
                if k != "features":
                    features, are_colors = _colours_01(features), True
                else:
                    features = features.astype(np.float64)
                break
        if "normals" in keys:
            if np.asarray(loaded["normals"]).dtype.kind not in "biuf":
                raise MeshFileError(name, f"'normals' should be numbers, got dtype {loaded['normals'].dtype}")
            normals = np.asarray(loaded["normals"], dtype=np.float64)
            if normals.shape != points.shape:
                raise MeshFileError(name, f"'normals' should have shape {points.shape}, got {normals.shape}")
    for label, arr in (("normals", normals), ("features", features)):
        if arr is not None and not np.isfinite(arr).all():
            raise MeshFileError(name, f"{label} contain non-finite values")
    return {"name": name, "points": points, "normals": normals, "features": features,
            "features_are_colors": are_colors}


def load_pointcloud(path: PathOrFile, device="cpu"):
    """Loads a point cloud from PLY (vertices; colours as features, normals if present), NPZ or NPY.

    NPZ: an array "points" or "xyz" (N, 3); optional "features" (N, C) taken as is, or "colors" / "rgb" (N, 3)
    (uint8 or 0..255 values divided by 255); optional "normals" (N, 3). NPY: (N, 3) xyz or (N, 6) xyz + rgb.

    Returns:
        Pointclouds with one cloud: points (P, 3) float32, normals (P, 3) or None, features (P, C) or None.
    Raises:
        MeshFileError naming the file for missing files, wrong shapes, NaN/inf, or no points.
    """
    from inverse3d.structures import Pointclouds

    cloud = read_pointcloud(path)

    def t(x):
        return None if x is None else [torch.from_numpy(np.ascontiguousarray(x)).to(device=device,
                                                                                  dtype=torch.float32)]

    return Pointclouds(points=t(cloud["points"]), normals=t(cloud["normals"]), features=t(cloud["features"]))


# PyTorch3D exports the IO plugins of this format from this module.
from inverse3d.io.pluggable_formats import MeshPlyFormat, PointcloudPlyFormat  # noqa: E402,F401
