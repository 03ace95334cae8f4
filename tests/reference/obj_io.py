"""A slow, obvious OBJ parser: one Python loop over lines, used as the oracle for inverse3d.io.obj_io.

Handles v / vt / vn / f (v, v/vt, v/vt/vn, v//vn), negative indices relative to the elements defined so far,
fan triangulation, usemtl, and comments. No error reporting: inputs are assumed valid.
"""

from __future__ import annotations

import numpy as np


def parse_obj_naive(text: str) -> dict:
    """Returns numpy arrays: verts (V, 3), uvs (T, 2), normals (N, 3), faces_v / faces_t / faces_n (F, 3) (-1 where
    absent), faces_mat (F,) (-1 without material), and material_names."""
    verts, uvs, normals = [], [], []
    faces_v, faces_t, faces_n, faces_mat = [], [], [], []
    material_names: list[str] = []
    current = -1
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        key, args = parts[0], parts[1:]
        if key == "v":
            verts.append([float(x) for x in args[:3]])
        elif key == "vt":
            uvs.append([float(x) for x in args[:2]])
        elif key == "vn":
            normals.append([float(x) for x in args[:3]])
        elif key == "usemtl":
            name = " ".join(args)
            if name not in material_names:
                material_names.append(name)
            current = material_names.index(name)
        elif key == "f":
            corners = []
            for token in args:
                fields = token.split("/")
                while len(fields) < 3:
                    fields.append("")
                resolved = []
                for value, pool in zip(fields, (verts, uvs, normals)):
                    if value == "":
                        resolved.append(-1)
                        continue
                    i = int(value)
                    resolved.append(i - 1 if i > 0 else len(pool) + i)
                corners.append(resolved)
            for k in range(1, len(corners) - 1):
                tri = [corners[0], corners[k], corners[k + 1]]
                faces_v.append([c[0] for c in tri])
                faces_t.append([c[1] for c in tri])
                faces_n.append([c[2] for c in tri])
                faces_mat.append(current)
    return {
        "verts": np.array(verts, dtype=np.float64).reshape(-1, 3),
        "uvs": np.array(uvs, dtype=np.float64).reshape(-1, 2),
        "normals": np.array(normals, dtype=np.float64).reshape(-1, 3),
        "faces_v": np.array(faces_v, dtype=np.int64).reshape(-1, 3),
        "faces_t": np.array(faces_t, dtype=np.int64).reshape(-1, 3),
        "faces_n": np.array(faces_n, dtype=np.int64).reshape(-1, 3),
        "faces_mat": np.array(faces_mat, dtype=np.int64),
        "material_names": material_names,
    }
