"""Wavefront OBJ and MTL files: ``load_obj``, ``load_objs_as_meshes`` and ``save_obj`` with PyTorch3D's API.

The parser is our own and works on the file's bytes with numpy: lines are classified by their first bytes, the
numbers of all ``v`` / ``vt`` / ``vn`` / ``f`` lines are each parsed in one call, and polygons are fan-triangulated
with index arithmetic, so a 100k-face file loads without a Python loop over lines. A line that fails the fast path
is found again by a slow per-line pass, only to name it in the error.

What is read: ``v`` (extra columns: a homogeneous weight is ignored, six or seven columns are ``x y z r g b [a]``
vertex colours), ``vt``, ``vn``, ``f`` (``v``, ``v/vt``, ``v/vt/vn``, ``v//vn``; negative indices count back from
the last element defined before the line, as the OBJ spec says), ``usemtl``, ``mtllib`` (several libraries
allowed), comments after ``#``. Other statements (``o``, ``g``, ``s``, ``vp``, ...) are skipped; line (``l``) and
point (``p``) elements are skipped with a warning, since they are data a triangle mesh cannot hold.

Decisions (documented here because they differ from, or go beyond, PyTorch3D):
- A file with no faces loads in ``load_obj`` with empty ``(0, 3)`` index tensors, as in PyTorch3D;
  ``load_objs_as_meshes`` raises ``MeshFileError`` for it, since a mesh without faces cannot be rendered.
- Face indices out of range load in ``load_obj`` with PyTorch3D's warning ("Faces have invalid indices", here
  naming the file, line and index) and are returned as they are; ``load_objs_as_meshes`` (and
  ``create_texture_atlas``) raise ``MeshFileError`` for them instead, where PyTorch3D builds meshes whose faces
  point outside their vertices. Index 0 (PyTorch3D silently reads it as the first element), non-numeric values,
  faces with fewer than 3 corners, and NaN/inf coordinates raise ``MeshFileError`` naming the file and line.
- ``create_texture_atlas``: the (F, R, R, 3) per-face maps are built with PyTorch3D's rules
  (``inverse3d.io.mtl_io.make_mesh_texture_atlas``: white where a face has no material or its material no ``Kd``),
  and ``load_objs_as_meshes`` then gives ``TexturesAtlas``.
- A missing MTL file, an MTL without the material, or a missing/unreadable texture image warns with the missing
  file's path and falls back: to the material's diffuse colour ``Kd`` where the MTL gives one, else grey 0.5.
- Hostile files: ``mtllib`` and ``map_Kd`` resolve inside the OBJ's folder; a reference leaving it (absolute path,
  ``..``, symbolic link) is refused with a warning naming it and falls back as a missing file does, unless
  ``allow_external_files=True`` (``inverse3d.io.references``). Texture images are refused from their header above
  ``max_texture_pixels`` (64 Mpx by default, ``inverse3d.io.images``), with the same fallback. Lines are quoted in
  messages only from files named ``*.obj`` / ``*.mtl``: another file read as one (``mtllib /etc/passwd`` with the
  opt-in) gets the line number and the problem only. A file without ``v`` lines (empty, binary, not an OBJ) is a
  ``MeshFileError``, where PyTorch3D returns an empty mesh.
- Several materials with texture images: PyTorch3D's ``load_objs_as_meshes`` keeps only the first image. We pack
  all material images side by side (top-aligned) into one map, with a small solid patch per colour-only
  material, and remap the UVs so that every face samples what its material shows. UVs are clamped to [0, 1]
  first (PyTorch3D's TexturesUV samples with border padding, so that is what a single image would show) and
  mapped to pixel centres as ``align_corners=True`` sampling reads them, so sampling the packed map equals
  sampling the material's own image. Faces without any material are white, as in PyTorch3D's texture atlas.
- Without texture images, per-vertex colours from ``v`` lines become ``TexturesVertex``; otherwise diffuse
  colours of the materials are used (``TexturesVertex`` when there is a single colour, a packed map otherwise).
"""

from __future__ import annotations

import os
import warnings
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from inverse3d.io import images as images_mod
from inverse3d.io.errors import MeshFileError, PathOrFile, read_source, source_name
from inverse3d.io.references import EXTERNAL_HINT, resolve_reference

# Faces & Aux types returned from load_obj (PyTorch3D's names and field order).
_Faces = namedtuple("Faces", "verts_idx normals_idx textures_idx materials_idx")
_Aux = namedtuple("Properties", "normals verts_uvs material_colors texture_images texture_atlas")

_SP, _NL, _SLASH, _HASH = 32, 10, 47, 35
_GREY = (0.5, 0.5, 0.5)
_WHITE = (1.0, 1.0, 1.0)
_PATCH = 4  # width in pixels of a solid colour patch in a packed texture map


@dataclass
class ObjData:
    """Everything parsed from an OBJ file, as numpy arrays (0-based indices, -1 where absent)."""

    name: str
    folder: Optional[Path]
    verts: np.ndarray  # (V, 3) float64
    verts_colors: Optional[np.ndarray]  # (V, 3) float64 in [0, 1], or None
    normals: np.ndarray  # (N, 3) float64
    verts_uvs: np.ndarray  # (T, 2) float64
    faces_verts: np.ndarray  # (F, 3) int64
    faces_normals: np.ndarray  # (F, 3) int64, -1 where the face has no normals
    faces_uvs: np.ndarray  # (F, 3) int64, -1 where the face has no texture coordinates
    faces_materials: np.ndarray  # (F,) int64 index into material_names, -1 without material
    material_names: list = field(default_factory=list)  # in order of first use
    mtllibs: list = field(default_factory=list)  # as written after ``mtllib``
    # the first face index out of range (the indices are kept as they are), or None
    index_error: Optional[MeshFileError] = None


# ---------------------------------------------------------------------------------------------------------------
# Byte-level helpers
# ---------------------------------------------------------------------------------------------------------------


def _prepare(data: bytes) -> np.ndarray:
    """(B,) uint8 copy of the file with tabs/CR as spaces, comments blanked and a final newline."""
    buf = np.empty(len(data) + 1, dtype=np.uint8)
    buf[:-1] = np.frombuffer(data, dtype=np.uint8)
    buf[-1] = _NL
    for char in (b"\t", b"\r", b"\v", b"\f"):
        if char in data:
            buf[buf == char[0]] = _SP
    if b"#" in data:
        pos = np.arange(buf.size)
        last_hash = np.maximum.accumulate(np.where(buf == _HASH, pos, -1))
        last_nl = np.maximum.accumulate(np.where(buf == _NL, pos, -1))
        buf[last_hash > last_nl] = _SP
    return buf


def _token_spans(sub: np.ndarray, n_lines: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tokens of newline-terminated lines: (start, inclusive end, line of each token, tokens per line)."""
    sep = (sub == _SP) | (sub == _NL)
    tok = ~sep
    prev_sep = np.empty_like(sep)
    prev_sep[0] = True
    prev_sep[1:] = sep[:-1]
    next_sep = np.empty_like(sep)
    next_sep[-1:] = True
    next_sep[:-1] = sep[1:]
    start = np.flatnonzero(tok & prev_sep)
    end = np.flatnonzero(tok & next_sep)
    line = np.searchsorted(np.flatnonzero(sub == _NL), start)
    counts = np.bincount(line, minlength=n_lines)
    return start, end, line, counts


def _parse_numbers(text: bytes, dtype: type, count: int) -> Optional[np.ndarray]:
    """All whitespace-separated numbers in ``text``, or None if any token is not a number of ``dtype``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            values = np.fromstring(text, dtype=dtype, sep=" ")
    except (ValueError, DeprecationWarning):
        return None
    except AttributeError:  # a numpy without text-mode fromstring
        try:
            values = np.array(text.split(), dtype=dtype)
        except (ValueError, OverflowError):
            return None
    return values if values.size == count else None


def _first_offsets(counts: np.ndarray) -> np.ndarray:
    offsets = np.zeros_like(counts)
    np.cumsum(counts[:-1], out=offsets[1:])
    return offsets


def fan_triangulate(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fan triangulation of polygons stored one after another: (c0, c1, ..., ck) -> (c0, ci, ci+1).

    Args:
        counts: (P,) corners per polygon (each >= 3).
    Returns:
        corners (F, 3) int64 positions in the flat corner list, polygon (F,) int64 the polygon of each triangle.
    """
    n_tri = counts - 2
    polygon = np.repeat(np.arange(counts.size), n_tri)
    within = np.arange(polygon.size) - np.repeat(_first_offsets(n_tri), n_tri)
    a = _first_offsets(counts)[polygon]
    return np.stack([a, a + within + 1, a + within + 2], axis=1), polygon


class _Lines:
    """The file split into lines, with each line's first non-space byte and its keyword class.

    ``echo``: whether messages may quote the file's lines. Only an OBJ file's own lines are quoted (a file
    named ``*.obj``, or a file object): a file of another kind read as an OBJ (``/etc/passwd``) is never shown.
    """

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        suffix = Path(name).suffix.lower()
        self.echo = suffix == ".obj" or (name.startswith("<") and name.endswith(">"))
        self.buf = buf = _prepare(data)
        self.nl = nl = np.flatnonzero(buf == _NL)
        starts = np.zeros_like(nl)
        starts[1:] = nl[:-1] + 1
        self.lengths = nl - starts + 1  # bytes per line, newline included
        first = starts.copy()
        indented = np.flatnonzero(buf[starts] == _SP)
        if indented.size:  # rare: find the first non-space byte of indented lines
            nonspace = np.flatnonzero(buf != _SP)
            first[indented] = nonspace[np.searchsorted(nonspace, starts[indented])]
        self.first = first
        padded = np.concatenate([buf, np.full(3, _SP, dtype=np.uint8)])
        c0, c1, c2 = padded[first], padded[first + 1], padded[first + 2]
        sep1 = (c1 == _SP) | (c1 == _NL)
        sep2 = (c2 == _SP) | (c2 == _NL)
        is_v0 = c0 == ord("v")
        self.v = is_v0 & sep1
        self.vt = is_v0 & (c1 == ord("t")) & sep2
        self.vn = is_v0 & (c1 == ord("n")) & sep2
        self.f = (c0 == ord("f")) & sep1
        self.other = ~(self.v | self.vt | self.vn | self.f | (c0 == _NL))
        # The same bytes with the keywords of v/vt/vn/f lines blanked: what is left of those lines is numbers.
        self.body = body = buf.copy()
        body[first[self.v | self.vt | self.vn | self.f]] = _SP
        body[first[self.vt | self.vn] + 1] = _SP

    def text(self, i: int) -> str:
        """Line i (0-based) as text, comment removed."""
        return self.buf[self.first[i] : self.nl[i]].tobytes().decode("utf-8", errors="replace").strip()

    def block(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(0-based indices of the lines in mask, their bytes with the keyword blanked, newline-terminated)."""
        return np.flatnonzero(mask), self.body[np.repeat(mask, self.lengths)]

    def error(self, i: int, problem: str, plain: Optional[str] = None) -> MeshFileError:
        """MeshFileError for line i: ``problem`` and the line quoted when ``echo``; else ``plain`` (``problem``
        without anything taken from the file; default ``problem``) and the line number only."""
        if not self.echo:
            return MeshFileError(self.name, plain or problem, line=int(i) + 1)
        return MeshFileError(self.name, f"{problem}: {_clip(repr(self.text(i)))}", line=int(i) + 1)


def _clip(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters (a message stays one readable line)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _locate_bad_token(lines: _Lines, idx: np.ndarray, kind: str, convert: type, slashes: bool = False) -> None:
    """Slow path: raises MeshFileError for the first line in idx with a token that is not a number."""
    for i in idx:
        tokens = lines.text(i).split()[1:]
        for token in tokens:
            for part in token.split("/") if slashes else [token]:
                if slashes and part == "":
                    continue
                try:
                    convert(part)
                except ValueError:
                    what = "an integer index" if convert is int else "a number"
                    raise lines.error(i, f"{kind} value {_clip(repr(part), 30)} is not {what}",
                                      plain=f"{kind} value is not {what}") from None
    raise MeshFileError(lines.name, f"could not parse the {kind} lines")  # pragma: no cover - safety net


def _parse_rows(lines: _Lines, mask: np.ndarray, kind: str, need: int):
    """Parses the float rows of one keyword. Returns (line indices, values (n, need), tokens per line, all values)."""
    idx, sub = lines.block(mask)
    if idx.size == 0:
        return idx, np.zeros((0, need)), np.zeros(0, dtype=np.int64), np.zeros(0)
    start, _, _, counts = _token_spans(sub, idx.size)
    short = np.flatnonzero(counts < need)
    if short.size:
        k = short[0]
        raise lines.error(idx[k], f"{kind} needs {need} values, got {counts[k]}")
    values = _parse_numbers(sub.tobytes(), np.float64, start.size)
    if values is None:
        _locate_bad_token(lines, idx, kind, float)
    offsets = _first_offsets(counts)
    rows = values[offsets[:, None] + np.arange(need)]
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if bad.size:
        k = bad[0]
        raise lines.error(idx[k], f"{kind} has a non-finite value ({rows[k].tolist()})")
    return idx, rows, counts, values


def _resolve(raw, present, element_lines, total, corner_lines, lines, what, plural):
    """OBJ indices (1-based; negative: relative to the elements defined before the line) -> 0-based, -1 absent.

    Args:
        raw: (C,) int64 indices as written, one per face corner; present: (C,) bool where the field exists;
        element_lines: sorted 0-based line numbers of the v (or vt, vn) lines; total: their number;
        corner_lines: (C,) 0-based line of each corner; what / plural: names for messages.
    Returns:
        (indices, error): indices out of range are kept as they are (PyTorch3D loads them with a warning) and
        ``error`` is a MeshFileError naming the first, else None.
    Raises:
        MeshFileError for an index 0 (PyTorch3D would silently read it as the first element).
    """
    zero = np.flatnonzero(present & (raw == 0))
    if zero.size:
        raise lines.error(corner_lines[zero[0]], f"face {what} index 0 is invalid (OBJ indices start at 1)")
    relative = present & (raw < 0)
    idx = raw - 1
    defined_before = None
    if relative.any():
        defined_before = np.searchsorted(element_lines, corner_lines)
        idx = np.where(relative, defined_before + raw, idx)
    bad = np.flatnonzero(present & ((idx < 0) | (idx >= total)))
    error = None
    if bad.size:
        k = bad[0]
        if raw[k] > 0:
            problem = f"face {what} index {raw[k]} out of range ({total} {plural})"
        else:
            problem = f"face {what} index {raw[k]} out of range ({defined_before[k]} {plural} defined before it)"
        error = lines.error(corner_lines[k], problem)
    return np.where(present, idx, -1), error


def _check_text(data: bytes, name: str) -> None:
    """Raises MeshFileError for binary data (NUL bytes or many control characters in the first 64 KiB)."""
    head = np.frombuffer(data[:65536], dtype=np.uint8)
    if head.size == 0:
        return
    control = (head < 32) & ~np.isin(head, (9, 10, 11, 12, 13, 26)) | (head == 127)  # 26: DOS end-of-file mark
    if (head == 0).any() or control.mean() > 0.005:
        raise MeshFileError(name, "not an OBJ file: it holds binary data, not text (a binary format, a "
                                  "UTF-16 file, or random bytes)")


def parse_obj(data: bytes, name: str = "<obj>", folder: Optional[Path] = None) -> ObjData:
    """Parses the bytes of an OBJ file (see the module docstring for what is read).

    Args:
        data: the file's contents.
        name: the file's name for error messages.
        folder: where the file lives (MTL libraries are looked up there).
    Raises:
        MeshFileError naming the file and line for malformed content, and for a file without vertices (empty,
        binary, or not an OBJ).
    """
    _check_text(data, name)
    lines = _Lines(data, name)

    v_idx, verts, v_counts, v_values = _parse_rows(lines, lines.v, "vertex", 3)
    if v_idx.size == 0:
        what = "an empty file" if not data.strip() else "no 'v' lines"
        raise MeshFileError(name, f"no vertices ({what}); not an OBJ mesh")
    verts_colors = None
    if v_counts.size and (v_counts >= 6).any():
        if np.isin(v_counts, (6, 7)).all():
            verts_colors = v_values[_first_offsets(v_counts)[:, None] + 3 + np.arange(3)]
            if not np.isfinite(verts_colors).all():
                raise MeshFileError(name, "vertex colours contain non-finite values")
            if verts_colors.max(initial=0.0) > 1.0:  # written as 0..255
                verts_colors = verts_colors / 255.0
        else:
            warnings.warn(f"{name}: only some vertices have colour columns; vertex colours are ignored", stacklevel=3)
    vt_idx, verts_uvs, _, _ = _parse_rows(lines, lines.vt, "texture coordinate", 2)
    vn_idx, normals, _, _ = _parse_rows(lines, lines.vn, "normal", 3)

    # Statements other than v/vt/vn/f: materials, and elements we warn about.
    mat_lines, mat_ids, material_names, mtllibs, skipped = [], [], [], [], {}
    for i in np.flatnonzero(lines.other):
        text = lines.text(i)
        keyword, _, rest = text.partition(" ")
        rest = rest.strip()
        if keyword == "usemtl":
            if not rest:
                raise lines.error(i, "usemtl without a material name")
            if rest not in material_names:
                material_names.append(rest)
            mat_lines.append(i)
            mat_ids.append(material_names.index(rest))
        elif keyword == "mtllib":
            if not rest:
                raise lines.error(i, "mtllib without a file name")
            mtllibs.append(rest)
        elif keyword in ("l", "p", "curv", "curv2", "surf"):
            skipped[keyword] = skipped.get(keyword, 0) + 1
    if skipped:
        what = ", ".join(f"{n} '{k}'" for k, n in skipped.items())
        warnings.warn(f"{name}: skipped {what} statements (only triangles and polygons are loaded)", stacklevel=3)

    f_idx, sub = lines.block(lines.f)
    empty = np.zeros((0, 3), dtype=np.int64)
    if f_idx.size == 0:
        return ObjData(name, folder, verts, verts_colors, normals, verts_uvs, empty, empty.copy(), empty.copy(),
                       np.zeros(0, dtype=np.int64), material_names, mtllibs)

    start, end, tline, ncorner = _token_spans(sub, f_idx.size)
    short = np.flatnonzero(ncorner < 3)
    if short.size:
        k = short[0]
        raise lines.error(f_idx[k], f"face needs at least 3 vertices, got {ncorner[k]}")

    # Corner formats: 0 "v", 1 "v/vt", 2 "v/vt/vn", 3 "v//vn".
    slash = sub == _SLASH
    # Slashes per corner token: sums from each token's start to the next one's (separators hold none).
    n_slash = np.add.reduceat(slash, start, dtype=np.int32)
    double = np.zeros(sub.size, dtype=bool)
    double[:-1] = slash[:-1] & slash[1:]
    n_double = np.add.reduceat(double, start, dtype=np.int32)
    kind = np.minimum(n_slash, 2) + (n_double > 0)
    bad = (n_slash > 2) | (n_double > 1) | ((n_double == 1) & (n_slash != 2)) | slash[start] | slash[end]
    if bad.any():
        k = np.flatnonzero(bad)[0]
        token = sub[start[k] : end[k] + 1].tobytes().decode("utf-8", errors="replace")
        raise lines.error(f_idx[tline[k]], f"face corner {_clip(repr(token), 30)} is not v, v/vt, v/vt/vn or v//vn",
                          plain="face corner is not v, v/vt, v/vt/vn or v//vn")
    first_tok = _first_offsets(ncorner)
    mixed = np.flatnonzero(np.minimum.reduceat(kind, first_tok) != np.maximum.reduceat(kind, first_tok))
    if mixed.size:
        raise lines.error(f_idx[mixed[0]], "face mixes corner formats (all corners need the same v/vt/vn layout)")

    n_fields = np.array([1, 2, 3, 2])[kind]
    digits = sub.copy()
    digits[slash] = _SP
    values = _parse_numbers(digits.tobytes(), np.int64, int(n_fields.sum()))
    if values is None:
        _locate_bad_token(lines, f_idx, "face", int, slashes=True)
    offsets = _first_offsets(n_fields)
    zeros = np.zeros_like(offsets)
    raw_v = values[offsets]
    raw_t = np.where((kind == 1) | (kind == 2), values[np.minimum(offsets + 1, values.size - 1)], zeros)
    raw_n = np.where(kind == 2, values[np.minimum(offsets + 2, values.size - 1)],
                     np.where(kind == 3, values[np.minimum(offsets + 1, values.size - 1)], zeros))

    corner_lines = f_idx[tline]  # 0-based file line of each corner
    every = np.ones(raw_v.shape, dtype=bool)
    cv, err_v = _resolve(raw_v, every, v_idx, len(verts), corner_lines, lines,
                         "vertex", "vertices")
    ct, err_t = _resolve(raw_t, (kind == 1) | (kind == 2), vt_idx, len(verts_uvs),
                         corner_lines, lines, "texture coordinate", "texture coordinates")
    cn, err_n = _resolve(raw_n, kind >= 2, vn_idx, len(normals), corner_lines, lines,
                         "normal", "normals")
    errors = [e for e in (err_v, err_t, err_n) if e is not None]

    corners, tri_face = fan_triangulate(ncorner)  # (F, 3) corner ids, (F,) polygon of each triangle

    if mat_lines:
        which = np.searchsorted(np.asarray(mat_lines), f_idx) - 1
        face_mat = np.where(which >= 0, np.asarray(mat_ids)[np.maximum(which, 0)], -1)
    else:
        face_mat = np.full(f_idx.size, -1, dtype=np.int64)

    return ObjData(
        name=name,
        folder=folder,
        verts=verts,
        verts_colors=verts_colors,
        normals=normals,
        verts_uvs=verts_uvs,
        faces_verts=cv[corners],
        faces_normals=cn[corners],
        faces_uvs=ct[corners],
        faces_materials=face_mat[tri_face].astype(np.int64),
        material_names=material_names,
        mtllibs=mtllibs,
        index_error=min(errors, key=lambda e: e.line) if errors else None,
    )


# ---------------------------------------------------------------------------------------------------------------
# MTL files and texture images
# ---------------------------------------------------------------------------------------------------------------

_MAP_OPTION_ARGS = {"-blendu": 1, "-blendv": 1, "-bm": 1, "-boost": 1, "-cc": 1, "-clamp": 1, "-imfchan": 1,
                    "-texres": 1, "-type": 1, "-mm": 2, "-o": 3, "-s": 3, "-t": 3}


def _map_file_name(rest: str) -> str:
    """The file name of a ``map_Kd [options] file`` statement."""
    tokens = rest.split()
    i = 0
    while i < len(tokens) and tokens[i] in _MAP_OPTION_ARGS:
        n = _MAP_OPTION_ARGS[tokens[i]]
        i += 1
        taken = 0
        while taken < n and i < len(tokens) - 1:  # numeric args of -o/-s/-t are optional after the first
            if taken > 0 and n == 3:
                try:
                    float(tokens[i])
                except ValueError:
                    break
            i += 1
            taken += 1
    return " ".join(tokens[i:]).replace("\\", "/")


def parse_mtl(path: Path) -> tuple[dict, dict]:
    """Reads an MTL file (lines are quoted in messages only when its name ends in ``.mtl``).

    Returns:
        (properties, texture files): ``{name: {"ambient_color": (3,), "diffuse_color": (3,), "specular_color":
        (3,), "shininess": (1,)}}`` as float32 numpy arrays (only the keys the file gives), and
        ``{name: texture file name as written after map_Kd}``.
    Raises:
        MeshFileError naming the MTL file and line for malformed values.
    """
    props: dict = {}
    textures: dict = {}
    current = None
    keys = {"ka": "ambient_color", "kd": "diffuse_color", "ks": "specular_color"}
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MeshFileError(path, f"cannot be read ({err.strerror or err})") from None
    echo = path.suffix.lower() == ".mtl" and b"\x00" not in data[:65536]
    text = data.decode("utf-8", errors="replace")
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        low = keyword.lower()
        if low == "newmtl":
            current = rest
            props.setdefault(current, {})
            continue
        if current is None:
            continue
        try:
            if low in keys:
                values = rest.split()
                if values and values[0] in ("spectral", "xyz"):
                    continue  # spectral / CIEXYZ colours are not supported; the default stays
                rgb = [float(x) for x in values[:3]]
                if len(rgb) == 1:
                    rgb = rgb * 3
                if len(rgb) != 3:
                    raise ValueError
                props[current][keys[low]] = np.asarray(rgb, dtype=np.float32)
            elif low == "ns":
                props[current]["shininess"] = np.asarray([float(rest.split()[0])], dtype=np.float32)
            elif low == "map_kd":
                textures[current] = _map_file_name(rest)
        except (ValueError, IndexError):
            detail = f": {_clip(repr(line))}" if echo else " (expected numbers)"
            raise MeshFileError(path, f"malformed {keyword} statement{detail}", line=number) from None
    return props, textures


def load_materials(obj: ObjData, device="cpu", allow_external_files: bool = False,
                   max_texture_pixels: Optional[int] = None) -> tuple[Optional[dict], Optional[dict]]:
    """Loads the MTL libraries and texture images of the materials an OBJ uses.

    MTL files and images are looked up inside the OBJ's folder only, unless ``allow_external_files``
    (see ``inverse3d.io.references``); texture images above ``max_texture_pixels`` (``inverse3d.io.images``) are
    refused from their header. A refused, missing or unreadable file warns, naming it, and its materials fall
    back to their diffuse colour ``Kd``, else grey.

    Returns:
        (material_colors, texture_images) as in ``load_obj``'s ``aux``; both None when the OBJ uses no
        material or no MTL library could be read (with a warning naming the missing file).
    """
    if not obj.material_names:
        return None, None
    budget = images_mod.max_texture_pixels(max_texture_pixels)
    folder = obj.folder if obj.folder is not None else Path(".")
    used = ", ".join(obj.material_names)
    if not obj.mtllibs:
        warnings.warn(f"{obj.name}: uses materials ({used}) but names no mtllib; faces fall back to grey",
                      stacklevel=3)
        return None, None
    props: dict = {}
    texture_files: dict = {}
    mtl_of: dict = {}
    any_read = False
    for written in obj.mtllibs:
        ref = resolve_reference(folder, folder, written, allow_external_files)
        if ref.path is not None and ref.path.is_file():
            refs = [(written, ref)]
        else:
            names = written.split()
            if len(names) > 1:  # "mtllib a.mtl b.mtl": several libraries on one line
                refs = [(n, resolve_reference(folder, folder, n, allow_external_files)) for n in names]
            else:
                refs = [(written, ref)]
        for name_written, (p, _) in refs:
            if p is None:
                warnings.warn(f"{obj.name}: mtllib {_clip(repr(name_written), 240)} is outside the mesh's folder "
                              f"{folder}; refused ({EXTERNAL_HINT}); its materials fall back to grey", stacklevel=3)
                continue
            if not p.is_file():
                warnings.warn(f"{obj.name}: MTL file {p} not found; its materials fall back to grey", stacklevel=3)
                continue
            any_read = True
            mtl_props, mtl_textures = parse_mtl(p)
            for name in mtl_props:
                props.setdefault(name, mtl_props[name])
                mtl_of.setdefault(name, p)
            for name, tex in mtl_textures.items():
                texture_files.setdefault(name, (p.parent, tex))
    if not any_read:
        return None, None
    missing = [n for n in obj.material_names if n not in props]
    if missing:
        warnings.warn(f"{obj.name}: materials {missing} are not defined in {obj.mtllibs}; they fall back to grey",
                      stacklevel=3)

    material_colors = {}
    texture_images = {}
    for name in obj.material_names:
        if name not in props:
            continue
        material_colors[name] = {k: torch.from_numpy(v).to(device) for k, v in props[name].items()}
        if name in texture_files:
            mtl_folder, written = texture_files[name]
            path, _ = resolve_reference(folder, mtl_folder, written, allow_external_files)
            fallback = "its diffuse colour Kd" if "diffuse_color" in props[name] else "grey"
            if path is None:
                warnings.warn(f"{obj.name}: texture image {_clip(repr(written), 240)} of material {name!r} is outside "
                              f"the mesh's folder {folder}; refused ({EXTERNAL_HINT}); using {fallback} instead",
                              stacklevel=3)
                continue
            if not path.is_file():
                warnings.warn(f"{obj.name}: texture image {path} of material {name!r} not found; "
                              f"using {fallback} instead", stacklevel=3)
                continue
            try:
                texture_images[name] = images_mod.read_image(path, budget).to(device)
            except images_mod.ImageTooLargeError as err:
                warnings.warn(f"{obj.name}: texture image {path} of material {name!r} refused: {err.problem}; "
                              f"using {fallback} instead", stacklevel=3)
            except MeshFileError as err:  # unreadable or corrupt image: warn and fall back, as for a missing one
                warnings.warn(f"{obj.name}: texture image {path} of material {name!r} {err.problem}; "
                              f"using {fallback} instead", stacklevel=3)
            except Exception as err:  # anything else an image decoder raises
                warnings.warn(f"{obj.name}: texture image {path} of material {name!r} cannot be read "
                              f"({type(err).__name__}); using {fallback} instead", stacklevel=3)
    return material_colors, texture_images


# ---------------------------------------------------------------------------------------------------------------
# Texture atlas (per-face R x R maps, PyTorch3D's create_texture_atlas)
# ---------------------------------------------------------------------------------------------------------------


def make_texture_atlas(obj: ObjData, material_colors: Optional[dict], texture_images: Optional[dict],
                       size: int, wrap: Optional[str], device="cpu") -> torch.Tensor:
    """(F, size, size, 3) per-face texture maps (SoftRas style), built as PyTorch3D's ``load_obj`` builds them
    (``inverse3d.io.mtl_io.make_mesh_texture_atlas``): faces without a material, or whose material is missing or
    has no ``Kd``, are white; colour-only materials give ``Kd``; textured materials sample their image at the
    centroids of size * size sub-triangles of the face's UV triangle."""
    from inverse3d.io.mtl_io import make_mesh_texture_atlas

    names = np.array([""] + list(obj.material_names), dtype=object)[obj.faces_materials + 1]
    faces_uvs = torch.from_numpy(np.ascontiguousarray(obj.faces_uvs)).to(device)
    verts_uvs = torch.from_numpy(np.ascontiguousarray(obj.verts_uvs)).to(device=device, dtype=torch.float32)
    return make_mesh_texture_atlas(material_colors or {}, texture_images or {}, names, faces_uvs, verts_uvs,
                                   size, wrap)


# ---------------------------------------------------------------------------------------------------------------
# load_obj
# ---------------------------------------------------------------------------------------------------------------


def _read_obj(f: PathOrFile) -> ObjData:
    data, name, folder = read_source(f)
    return parse_obj(data, name, folder)


def load_obj(
    f: PathOrFile,
    load_textures: bool = True,
    create_texture_atlas: bool = False,
    texture_atlas_size: int = 4,
    texture_wrap: Optional[str] = "repeat",
    device="cpu",
    path_manager=None,
    *,
    allow_external_files: bool = False,
    max_texture_pixels: Optional[int] = None,
):
    """Loads an OBJ file (and its MTL materials and texture images), as PyTorch3D's ``load_obj``.

    Polygons are fan-triangulated: (c0, c1, c2, c3) -> (c0, c1, c2), (c0, c2, c3).

    Args:
        f: path (str / Path) or open file object (text or binary).
        load_textures: read the MTL libraries and texture images.
        create_texture_atlas: also build ``aux.texture_atlas``, an (F, R, R, 3) per-face map.
        texture_atlas_size: R.
        texture_wrap: "repeat", "clamp" or None: how UVs outside [0, 1] are treated for the atlas.
        device: where the returned tensors live.
        path_manager: accepted for PyTorch3D compatibility and ignored (files are read from the local disk).
        allow_external_files: read MTL files and texture images that ``mtllib`` / ``map_Kd`` place outside the
            OBJ's folder (absolute paths, ``..``, symbolic links out of it); by default they are refused with a
            warning (``inverse3d.io.references``).
        max_texture_pixels: texture images with more pixels are refused from their header, with a warning
            (None: ``$INVERSE3D_MAX_TEXTURE_PIXELS``, else 64 Mpx; see ``inverse3d.io.images``).

    Returns:
        verts: (V, 3) float32 vertex positions.
        faces: namedtuple ``Faces`` with
            verts_idx (F, 3) int64 indices into verts;
            normals_idx (F, 3) int64 indices into aux.normals, -1 for faces without normals;
            textures_idx (F, 3) int64 indices into aux.verts_uvs, -1 for faces without texture coordinates;
            materials_idx (F,) int64 indices into the materials in order of first ``usemtl``, -1 without one.
        aux: namedtuple ``Properties`` with
            normals (N, 3) float32 or None; verts_uvs (T, 2) float32 or None (T may exceed V);
            material_colors: {name: {"ambient_color": (3,), "diffuse_color": (3,), "specular_color": (3,),
            "shininess": (1,)}} for the materials used (None if load_textures is False or no MTL was read);
            texture_images: {name: (H, W, 3) float32 in [0, 1]} (None likewise);
            texture_atlas: (F, R, R, 3) float32 if create_texture_atlas, else None.
        A file without faces gives (0, 3) index tensors (a mesh-building caller must check). Face indices out
        of range warn ("Faces have invalid indices", naming the first) and are returned as they are, as in
        PyTorch3D.

    Raises:
        MeshFileError (a ValueError; MeshFileNotFoundError, also a FileNotFoundError, for a missing file)
        naming the file and line for malformed content (an index 0 included: PyTorch3D would read it as the
        first element), for face indices out of range when ``create_texture_atlas``, and for a file without
        vertices (empty, binary, not an OBJ). Missing, refused or oversized MTL and texture files only warn.
    """
    if texture_wrap is not None and texture_wrap not in ("repeat", "clamp"):
        raise ValueError(f"texture_wrap must be 'repeat', 'clamp' or None, got {texture_wrap!r}")
    budget = images_mod.max_texture_pixels(max_texture_pixels)
    obj = _read_obj(f)
    return _obj_to_tuples(obj, load_textures, create_texture_atlas, texture_atlas_size, texture_wrap, device,
                          allow_external_files, budget)


def _obj_to_tuples(obj, load_textures, create_texture_atlas, texture_atlas_size, texture_wrap, device,
                   allow_external_files=False, max_texture_pixels=None):
    def t(x, dtype):
        return torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=dtype)

    if obj.index_error is not None:
        if create_texture_atlas:  # the atlas reads the faces' texture coordinates
            raise obj.index_error
        # PyTorch3D loads such files with this warning, and so do we: the indices are returned as they are.
        warnings.warn(f"Faces have invalid indices: {obj.index_error}", stacklevel=3)
    material_colors = texture_images = texture_atlas = None
    if load_textures:
        material_colors, texture_images = load_materials(obj, device, allow_external_files, max_texture_pixels)
    if create_texture_atlas:
        texture_atlas = make_texture_atlas(obj, material_colors, texture_images, texture_atlas_size,
                                           texture_wrap, device)
    faces = _Faces(
        verts_idx=t(obj.faces_verts, torch.int64),
        normals_idx=t(obj.faces_normals, torch.int64),
        textures_idx=t(obj.faces_uvs, torch.int64),
        materials_idx=t(obj.faces_materials, torch.int64),
    )
    aux = _Aux(
        normals=t(obj.normals, torch.float32) if len(obj.normals) else None,
        verts_uvs=t(obj.verts_uvs, torch.float32) if len(obj.verts_uvs) else None,
        material_colors=material_colors,
        texture_images=texture_images,
        texture_atlas=texture_atlas,
    )
    return t(obj.verts, torch.float32), faces, aux


# ---------------------------------------------------------------------------------------------------------------
# Textures for load_objs_as_meshes
# ---------------------------------------------------------------------------------------------------------------


def pack_texture_maps(
    images: Sequence[torch.Tensor],
    colours: torch.Tensor,
    face_image: torch.Tensor,
    face_colour: torch.Tensor,
    faces_uvs: torch.Tensor,
    verts_uvs: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Packs several texture images and solid colours into one map and remaps the UVs to it.

    Images sit side by side, top-aligned, followed by one 4-pixel-wide patch per colour. UVs are clamped to
    [0, 1] and mapped so that ``align_corners=True`` bilinear sampling of the packed map at the new UV equals
    sampling the face's own image at the old one.

    Args:
        images: M images (H_m, W_m, 3).
        colours: (C, 3) solid colours.
        face_image: (F,) int64 index of the face's image, -1 if the face takes a solid colour.
        face_colour: (F,) int64 index into colours, used where face_image is -1.
        faces_uvs: (F, 3) int64 indices into verts_uvs (read where face_image >= 0).
        verts_uvs: (T, 2) UVs, v pointing up (row 0 of an image is v = 1).
    Returns:
        (map (H, W, 3), new faces_uvs (F, 3) int64, new verts_uvs (T', 2)).
    """
    device = face_image.device
    dtype = images[0].dtype if len(images) else colours.dtype
    heights = [int(im.shape[0]) for im in images]
    widths = [int(im.shape[1]) for im in images]
    n_img, n_col = len(images), int(colours.shape[0])
    H = max(heights + [2])
    W = max(sum(widths) + _PATCH * n_col, 2)
    packed = torch.zeros((H, W, 3), dtype=dtype, device=device)
    x0 = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    for m, im in enumerate(images):
        packed[: heights[m], x0[m] : x0[m] + widths[m]] = im.to(device=device, dtype=dtype)
    colour_x0 = int(x0[-1]) + _PATCH * np.arange(n_col)
    for c in range(n_col):
        packed[:, colour_x0[c] : colour_x0[c] + _PATCH] = colours[c].to(device=device, dtype=dtype)

    T = max(int(verts_uvs.shape[0]), 1)
    uses_image = (face_image >= 0)[:, None]
    keys = torch.where(uses_image, face_image[:, None] * T + faces_uvs.clamp(min=0),
                       n_img * T + face_colour[:, None].expand(-1, 3))  # (F, 3)
    uniq, inverse = torch.unique(keys.reshape(-1), return_inverse=True)
    is_img = uniq < n_img * T
    m = torch.where(is_img, uniq // T, 0)
    t = torch.where(is_img, uniq % T, 0)
    f64 = dict(device=device, dtype=torch.float64)
    xs = torch.as_tensor(x0[:-1] if n_img else np.zeros(1), **f64)
    ws = torch.as_tensor(widths or [1], **f64)
    hs = torch.as_tensor(heights or [1], **f64)
    if verts_uvs.shape[0]:
        uv = verts_uvs[t].to(torch.float64).clamp(0.0, 1.0)
    else:
        uv = torch.zeros((len(t), 2), **f64)
    px = xs[m] + uv[:, 0] * (ws[m] - 1)  # pixel column of the texel centre in the packed map
    py = (1.0 - uv[:, 1]) * (hs[m] - 1)  # pixel row
    c = (uniq - n_img * T).clamp(min=0, max=max(n_col - 1, 0))
    cx = torch.as_tensor(colour_x0 if n_col else np.zeros(1), **f64)
    px = torch.where(is_img, px, cx[c] + (_PATCH - 1) / 2)
    py = torch.where(is_img, py, torch.full_like(py, (H - 1) / 2))
    new_uvs = torch.stack([px / (W - 1), 1.0 - py / (H - 1)], dim=1).to(torch.float32)
    return packed, inverse.reshape(-1, 3), new_uvs


def packed_map_pixels(images: Sequence[torch.Tensor], n_colours: int) -> int:
    """Pixels of the map ``pack_texture_maps`` builds from these (H, W, 3) images and ``n_colours`` patches."""
    heights = [int(im.shape[0]) for im in images]
    widths = [int(im.shape[1]) for im in images]
    return max(heights + [2]) * max(sum(widths) + _PATCH * n_colours, 2)


def obj_texture_spec(obj: ObjData, material_colors: Optional[dict], texture_images: Optional[dict], device="cpu",
                     max_texture_pixels: Optional[int] = None):
    """Chooses the textures of a loaded OBJ (see the module docstring for the rules).

    Several texture images are packed into one map; when that map would exceed ``max_texture_pixels`` (images of
    very different shapes), the textured materials take their images' mean colours instead, with a warning.

    Returns:
        None, ("vertex", colours (V, 3)), or ("uv", map (H, W, 3), faces_uvs (F, 3) int64, verts_uvs (T, 2)).
    """
    n_faces = obj.faces_verts.shape[0]
    mats = obj.faces_materials
    images = texture_images or {}
    colours_of = material_colors or {}
    image_names = [n for n in obj.material_names if n in images]
    has_uv = (obj.faces_uvs >= 0).all(axis=1)
    budget = images_mod.max_texture_pixels(max_texture_pixels)
    mean_colour_of = {}
    if len(image_names) > 1:
        pixels = packed_map_pixels([images[n] for n in image_names], len(obj.material_names) + 1)
        if pixels > budget:
            warnings.warn(f"{obj.name}: packing the texture images of materials {image_names} into one map would "
                          f"take {pixels} pixels, over the budget of {budget} (max_texture_pixels); these materials "
                          f"use their images' mean colours instead", stacklevel=3)
            mean_colour_of = {n: tuple(images[n].reshape(-1, 3).mean(0).tolist()) for n in image_names}
            image_names = []

    if image_names:
        if len(image_names) == 1:
            m = obj.material_names.index(image_names[0])
            if (mats == m).all() and has_uv.all():  # PyTorch3D's case: one image for the whole mesh
                return ("uv", images[image_names[0]].to(device), torch.from_numpy(obj.faces_uvs).to(device),
                        torch.from_numpy(obj.verts_uvs).to(device=device, dtype=torch.float32))
        img_of_mat = np.array([image_names.index(n) if n in images else -1 for n in obj.material_names] + [-1])
        face_image = np.where(has_uv, img_of_mat[mats], -1)  # mats == -1 picks the trailing -1
    else:
        face_image = np.full(n_faces, -1)
        if obj.verts_colors is not None:
            return ("vertex", torch.from_numpy(obj.verts_colors).to(device=device, dtype=torch.float32))
        if not obj.material_names:
            return None

    # Solid colour of every face that does not sample an image.
    colour_of_mat = []
    for name in obj.material_names:
        props = colours_of.get(name)
        if name in mean_colour_of:  # an image too large to pack: its mean colour
            colour_of_mat.append(mean_colour_of[name])
        elif props is not None and "diffuse_color" in props:
            colour_of_mat.append(tuple(float(x) for x in props["diffuse_color"].reshape(-1)[:3]))
        elif name in images:  # textured material on faces without UVs: the image's mean colour
            colour_of_mat.append(tuple(images[name].reshape(-1, 3).mean(0).tolist()))
        elif props is not None:  # defined without Kd: the OBJ default is white
            colour_of_mat.append(_WHITE)
        else:  # missing MTL or material: already warned about
            colour_of_mat.append(_GREY)
    colour_of_mat.append(_WHITE)  # faces without material
    face_col_tuple = [colour_of_mat[k] for k in mats[face_image < 0]]
    palette = sorted(set(face_col_tuple))
    if not image_names and len(palette) == 1:
        colours = torch.tensor(palette[0], dtype=torch.float32, device=device).expand(obj.verts.shape[0], 3)
        return ("vertex", colours.contiguous())
    lookup = {c: i for i, c in enumerate(palette)}
    face_colour = np.zeros(n_faces, dtype=np.int64)
    face_colour[face_image < 0] = [lookup[c] for c in face_col_tuple]
    packed, faces_uvs, verts_uvs = pack_texture_maps(
        [images[n] for n in image_names],
        torch.tensor(palette, dtype=torch.float32).reshape(-1, 3),
        torch.from_numpy(face_image.astype(np.int64)).to(device),
        torch.from_numpy(face_colour).to(device),
        torch.from_numpy(obj.faces_uvs).to(device),
        torch.from_numpy(obj.verts_uvs).to(device=device, dtype=torch.float32),
    )
    return ("uv", packed.to(device), faces_uvs, verts_uvs.to(torch.float32))


def build_textures(specs: list, n_verts: Sequence[int], n_faces: Sequence[int], device=None):
    """One textures object for a batch of meshes from per-mesh specs (None / "vertex" / "uv" / "atlas" tuples).

    All "atlas": TexturesAtlas. All "uv": TexturesUV with per-mesh maps. Some "uv": the others get a one-colour map
    (their mean vertex colour, or grey) with a warning. Only "vertex" and None: TexturesVertex (None -> grey). All
    None: None.
    """
    if all(s is None for s in specs):
        return None
    if any(s is not None and s[0] == "atlas" for s in specs):
        from inverse3d.renderer.mesh.textures import TexturesAtlas

        if not all(s is not None and s[0] == "atlas" for s in specs):
            raise ValueError("build_textures: atlas textures cannot be mixed with other kinds in one batch")
        return TexturesAtlas(atlas=[s[1].to(device) for s in specs])
    if any(s is not None and s[0] == "uv" for s in specs):
        from inverse3d.renderer.mesh.textures import TexturesUV

        maps, faces_uvs, verts_uvs = [], [], []
        for spec, nf in zip(specs, n_faces):
            if spec is None or spec[0] != "uv":
                colour = spec[1].mean(0) if spec is not None else torch.tensor(_GREY)
                warnings.warn("a mesh without texture image in a batch with textured meshes gets a one-colour "
                              "texture map", stacklevel=3)
                spec = ("uv", colour.reshape(1, 1, 3).expand(2, 2, 3).contiguous(),
                        torch.zeros((nf, 3), dtype=torch.int64), torch.full((1, 2), 0.5))
            maps.append(spec[1].to(device))
            faces_uvs.append(spec[2].to(device))
            verts_uvs.append(spec[3].to(device))
        return TexturesUV(maps=maps, faces_uvs=faces_uvs, verts_uvs=verts_uvs)
    from inverse3d.renderer.mesh.textures import TexturesVertex

    feats = [(s[1] if s is not None else torch.full((nv, 3), 0.5)).to(device) for s, nv in zip(specs, n_verts)]
    return TexturesVertex(verts_features=feats)


def load_objs_as_meshes(
    files: list,
    device=None,
    load_textures: bool = True,
    create_texture_atlas: bool = False,
    texture_atlas_size: int = 4,
    texture_wrap: Optional[str] = "repeat",
    path_manager=None,
    *,
    allow_external_files: bool = False,
    max_texture_pixels: Optional[int] = None,
):
    """Loads OBJ files into one batched ``Meshes``, with textures (PyTorch3D's ``load_objs_as_meshes``).

    Textures: ``TexturesUV`` when a material has a texture image (several materials' images are packed into
    one map, see the module docstring), else ``TexturesVertex`` from vertex colours or the materials' diffuse
    colours, else None.

    Args:
        files: paths or file objects.
        device: where the meshes live (None: the CPU).
        load_textures: read materials and images.
        create_texture_atlas: textures are ``TexturesAtlas`` of the (F, R, R, 3) per-face maps of ``load_obj``
            (R = texture_atlas_size), as in PyTorch3D.
        texture_atlas_size, texture_wrap, path_manager, allow_external_files: as in ``load_obj``.
        max_texture_pixels: as in ``load_obj``; also bounds the packed map of a mesh with several textured
            materials (above it, those materials take their images' mean colours, with a warning).
    Raises:
        MeshFileError for unreadable files, for a file with no faces, and for face indices out of range (where
        PyTorch3D builds a Meshes whose faces point outside its vertices).
    """
    from inverse3d.structures import Meshes

    if texture_wrap is not None and texture_wrap not in ("repeat", "clamp"):
        raise ValueError(f"texture_wrap must be 'repeat', 'clamp' or None, got {texture_wrap!r}")
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    budget = images_mod.max_texture_pixels(max_texture_pixels)
    verts_list, faces_list, specs = [], [], []
    for f in files:
        obj = _read_obj(f)
        if obj.faces_verts.shape[0] == 0:
            raise MeshFileError(obj.name, f"has no faces ({obj.verts.shape[0]} vertices); cannot build a mesh")
        if obj.index_error is not None:
            raise obj.index_error
        spec = None
        if create_texture_atlas:
            material_colors, texture_images = (
                load_materials(obj, "cpu", allow_external_files, budget) if load_textures else (None, None))
            atlas = make_texture_atlas(obj, material_colors, texture_images, texture_atlas_size, texture_wrap)
            spec = ("atlas", atlas)
        elif load_textures:
            material_colors, texture_images = load_materials(obj, "cpu", allow_external_files, budget)
            spec = obj_texture_spec(obj, material_colors, texture_images, "cpu", budget)
        verts_list.append(torch.from_numpy(obj.verts).to(device=device, dtype=torch.float32))
        faces_list.append(torch.from_numpy(obj.faces_verts).to(device=device))
        specs.append(spec)
    textures = build_textures(specs, [len(v) for v in verts_list], [len(fc) for fc in faces_list], device)
    return Meshes(verts=verts_list, faces=faces_list, textures=textures)


# ---------------------------------------------------------------------------------------------------------------
# save_obj
# ---------------------------------------------------------------------------------------------------------------


def _check_rows(name: str, x: Optional[torch.Tensor], cols: int, floating: bool) -> Optional[np.ndarray]:
    if x is None:
        return None
    x = torch.as_tensor(x)
    if x.numel() and (x.dim() != 2 or x.shape[1] != cols):
        raise ValueError(f"save_obj: {name} should be empty or of shape (n, {cols}), got {tuple(x.shape)}")
    if floating and x.numel() and not torch.isfinite(x).all():
        raise ValueError(f"save_obj: {name} contains NaN or inf")
    return x.detach().cpu().reshape(-1, cols).numpy()


def _check_index(name: str, idx: np.ndarray, n: int, what: str) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"save_obj: {name} has indices outside [0, {n}) ({n} {what})")


def _format_rows(prefix: str, rows: np.ndarray, fmt: str) -> str:
    if rows.shape[0] == 0:
        return ""
    line = prefix + " " + " ".join([fmt] * rows.shape[1]) + "\n"
    return (line * rows.shape[0]) % tuple(rows.reshape(-1).tolist())


def _format_faces(corner: str, *indices: np.ndarray) -> str:
    """"f a/b/c ..." lines: corner is the format of one corner, indices are (F, 3) arrays, one per field."""
    if indices[0].shape[0] == 0:
        return ""
    rows = np.stack(indices, axis=2).reshape(indices[0].shape[0], -1)  # (F, 3 * fields), corner by corner
    line = "f " + " ".join([corner] * 3) + "\n"
    return (line * rows.shape[0]) % tuple(rows.reshape(-1).tolist())


def save_obj(
    f: PathOrFile,
    verts: torch.Tensor,
    faces: torch.Tensor,
    decimal_places: Optional[int] = None,
    path_manager=None,
    *,
    normals: Optional[torch.Tensor] = None,
    faces_normals_idx: Optional[torch.Tensor] = None,
    verts_uvs: Optional[torch.Tensor] = None,
    faces_uvs: Optional[torch.Tensor] = None,
    texture_map: Optional[torch.Tensor] = None,
) -> None:
    """Writes a mesh to an OBJ file, as PyTorch3D's ``save_obj``.

    With ``verts_uvs``, ``faces_uvs`` and ``texture_map``, also writes ``<stem>.mtl`` (one material "mesh") and
    ``<stem>.png`` next to the OBJ, which then needs ``f`` to be a path.

    Args:
        f: path or text file object.
        verts: (V, 3) float positions.
        faces: (F, 3) int64 indices into verts.
        decimal_places: digits after the point (None: "%f", six).
        path_manager: ignored (PyTorch3D compatibility).
        normals: (N, 3) float normals, with faces_normals_idx (F, 3) int64 indices into them.
        verts_uvs: (T, 2) float UVs, with faces_uvs (F, 3) int64 indices into them.
        texture_map: (H, W, 3) float image in [0, 1].
    Raises:
        ValueError for wrong shapes, NaN/inf values, indices out of range, or half-given pairs.
    """
    if (normals is None) != (faces_normals_idx is None):
        raise ValueError("save_obj: normals and faces_normals_idx must be given together")
    given = [x is not None for x in (verts_uvs, faces_uvs, texture_map)]
    if any(given) and not all(given):
        raise ValueError("save_obj: verts_uvs, faces_uvs and texture_map must be given together")
    v = _check_rows("verts", verts, 3, True)
    fc = _check_rows("faces", faces, 3, False).astype(np.int64)
    _check_index("faces", fc, v.shape[0], "vertices")
    fmt = "%f" if decimal_places is None else f"%.{int(decimal_places)}f"
    nrm = _check_rows("normals", normals, 3, True)
    fn = _check_rows("faces_normals_idx", faces_normals_idx, 3, False)
    uvs = _check_rows("verts_uvs", verts_uvs, 2, True)
    fu = _check_rows("faces_uvs", faces_uvs, 3, False)
    if fn is not None:
        fn = fn.astype(np.int64)
        if fn.shape[0] != fc.shape[0]:
            raise ValueError(f"save_obj: faces_normals_idx has {fn.shape[0]} rows for {fc.shape[0]} faces")
        _check_index("faces_normals_idx", fn, nrm.shape[0], "normals")
    if fu is not None:
        fu = fu.astype(np.int64)
        if fu.shape[0] != fc.shape[0]:
            raise ValueError(f"save_obj: faces_uvs has {fu.shape[0]} rows for {fc.shape[0]} faces")
        _check_index("faces_uvs", fu, uvs.shape[0], "texture coordinates")
        tex = torch.as_tensor(texture_map).detach()
        if tex.dim() == 4 and tex.shape[0] == 1:
            tex = tex[0]
        if tex.dim() != 3 or tex.shape[2] != 3:
            raise ValueError(f"save_obj: texture_map should be (H, W, 3), got {tuple(tex.shape)}")
        if not isinstance(f, (str, os.PathLike)) and not isinstance(getattr(f, "name", None), str):
            raise ValueError("save_obj: writing a texture needs f to be a path (the MTL and PNG go next to it)")

    parts = []
    if fu is not None:
        stem = Path(source_name(f)).stem
        parts.append(f"mtllib {stem}.mtl\nusemtl mesh\n")
    parts.append(_format_rows("v", v, fmt))
    if nrm is not None:
        parts.append(_format_rows("vn", nrm, fmt))
    if uvs is not None:
        parts.append(_format_rows("vt", uvs, fmt))
    one = fc + 1
    if fu is not None and fn is not None:
        parts.append(_format_faces("%d/%d/%d", one, fu + 1, fn + 1))
    elif fu is not None:
        parts.append(_format_faces("%d/%d", one, fu + 1))
    elif fn is not None:
        parts.append(_format_faces("%d//%d", one, fn + 1))
    else:
        parts.append(_format_faces("%d", one))
    text = "".join(parts)
    if v.shape[0] == 0 and fc.shape[0] == 0:
        warnings.warn("save_obj: empty verts and faces; writing an empty file", stacklevel=2)

    if isinstance(f, (str, os.PathLike)):
        Path(f).write_text(text)
    else:
        try:
            f.write(text)
        except TypeError:
            f.write(text.encode("utf-8"))

    if fu is not None:
        from PIL import Image

        path = Path(source_name(f))
        stem = path.stem
        image = (tex.cpu().float().clamp(0.0, 1.0).numpy() * 255.0).round().astype(np.uint8)
        Image.fromarray(image).save(path.parent / f"{stem}.png")
        (path.parent / f"{stem}.mtl").write_text(
            f"newmtl mesh\nmap_Kd {stem}.png\n"
            "Ka 1.000 1.000 1.000\nKd 1.000 1.000 1.000\nKs 0.000 0.000 0.000\nNs 10.0\n"
        )


# PyTorch3D exports the IO plugin of this format from this module.
from inverse3d.io.pluggable_formats import MeshObjFormat  # noqa: E402,F401
