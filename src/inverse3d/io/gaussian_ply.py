"""3D Gaussian splatting PLY files (the layout of the original INRIA code, read by common splat viewers).

One ``vertex`` element with float properties, in this order when written::

    x y z  nx ny nz  f_dc_0 f_dc_1 f_dc_2  f_rest_0 ... f_rest_{3(K-1)-1}  opacity  scale_0 scale_1 scale_2
    rot_0 rot_1 rot_2 rot_3

Values are stored unactivated, exactly as ``Gaussians`` holds them: ``opacity`` is the logit, ``scale_*`` are log
standard deviations, ``rot_*`` the quaternion (w, x, y, z), not necessarily normalised, ``f_dc_*`` the DC SH
coefficients. ``f_rest_*`` is channel-major as the INRIA exporter writes it (its ``(N, K-1, 3)`` tensor transposed to
``(N, 3, K-1)`` and flattened): ``f_rest_{c (K-1) + (k-1)}`` is coefficient k of colour channel c. Normals are
written as zeros and ignored on reading. Files are written binary little-endian; reading also takes big-endian,
ASCII, any property order, double properties, isotropic files (a single ``scale_0``) and extra properties (ignored).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from inverse3d.io.errors import MeshFileError, PathOrFile, read_source
from inverse3d.io.ply_io import _parse_header
from inverse3d.structures.gaussians import Gaussians

_NP_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
             "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
             "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def _property_names(sh_degree: int, isotropic: bool) -> list[str]:
    k = (sh_degree + 1) ** 2
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * (k - 1))]
    names += ["opacity"] + [f"scale_{i}" for i in range(1 if isotropic else 3)] + [f"rot_{i}" for i in range(4)]
    return names


def save_gaussians_ply(path: str | os.PathLike, gaussians: Gaussians) -> None:
    """Writes ``gaussians`` as a binary little-endian 3DGS PLY file (float32), atomically (temp file + rename).

    Args:
        path: the file to write; its folder must exist.
        gaussians: the scene; isotropic Gaussians are written with their scale repeated on three axes, so any
            viewer can read the file.
    """
    if not isinstance(gaussians, Gaussians):
        raise ValueError(f"save_gaussians_ply: expected Gaussians; got {type(gaussians).__name__}")
    path = Path(path)
    if not path.parent.is_dir():
        raise MeshFileError(os.fspath(path), "cannot be written: its folder does not exist")
    g = gaussians.detach().to("cpu", torch.float32)
    n, k = len(g), g.sh.shape[1]
    rest = g.sh[:, 1:].transpose(1, 2).reshape(n, 3 * (k - 1))  # (N, 3 (K-1)), channel-major as INRIA writes it
    columns = [g.means, torch.zeros(n, 3), g.sh[:, 0], rest, g.opacity_logits[:, None],
               g.log_scales.expand(n, 3), g.quats]
    table = torch.cat(columns, dim=1).numpy().astype("<f4")  # (N, P)
    names = _property_names(g.sh_degree, isotropic=False)
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property float {name}" for name in names] + ["end_header"]
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(("\n".join(header) + "\n").encode("ascii"))
            f.write(np.ascontiguousarray(table).tobytes())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise MeshFileError(os.fspath(path), f"cannot be written ({err.strerror or err})") from err


def load_gaussians_ply(
    path: PathOrFile, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> Gaussians:
    """Reads a 3DGS PLY file into ``Gaussians`` (SH degree from the number of ``f_rest_*`` properties).

    Args:
        path: a path or an open binary file.
        device, dtype: of the returned tensors.
    Raises:
        MeshFileError: one line naming the file: missing, not a PLY, truncated, a missing property (the message
            lists them), an ``f_rest`` count that is no SH degree, list properties, or non-finite values.
    """
    data, name, _ = read_source(path, "a Gaussian splatting PLY file")
    header = _parse_header(data, name)
    vertex = next(e for e in header.elements if e.name == "vertex")
    if vertex.lists:
        raise MeshFileError(name, "vertex element has list properties; not a Gaussian splatting PLY file")
    before = header.elements[: header.elements.index(vertex)]
    props = [p[0] for p in vertex.props]
    scale_names = ["scale_0", "scale_1", "scale_2"] if "scale_1" in props else ["scale_0"]
    n_rest = sum(1 for p in props if p.startswith("f_rest_"))
    degree = {0: 0, 9: 1, 24: 2, 45: 3}.get(n_rest)
    if degree is None:
        raise MeshFileError(name, f"has {n_rest} f_rest_* properties; a spherical-harmonic degree 0..3 needs "
                                  "0, 9, 24 or 45")
    required = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", *scale_names, "rot_0", "rot_1", "rot_2",
                "rot_3"] + [f"f_rest_{i}" for i in range(n_rest)]
    missing = [p for p in required if p not in props]
    if missing:
        raise MeshFileError(name, f"not a Gaussian splatting PLY file: vertex properties missing: "
                                  f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    n = vertex.count
    if header.format == "ascii":
        if before:
            raise MeshFileError(name, "ASCII Gaussian PLY files must start with the vertex element")
        text = data[header.body_start:].decode("ascii", errors="replace").split("\n")
        rows = [line.split() for line in text if line.strip()][:n]
        if len(rows) < n:
            raise MeshFileError(name, f"truncated: the header declares {n} vertices but the file holds {len(rows)}")
        try:
            table = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
        except ValueError:
            raise MeshFileError(name, "has a vertex value that is not a number") from None
        if table.ndim != 2 or table.shape[1] != len(props):
            raise MeshFileError(name, f"vertex lines must hold {len(props)} values each")
        columns = {p: table[:, i] for i, p in enumerate(props)}
    else:
        if any(e.lists for e in before):
            raise MeshFileError(name, "elements with lists before the vertex element are not supported")
        order = "<" if header.format == "binary_little_endian" else ">"
        offset = header.body_start + sum(
            e.count * sum(np.dtype(_NP_TYPES[p[1]]).itemsize for p in e.props) for e in before)
        record = np.dtype([(p[0], order + _NP_TYPES[p[1]]) for p in vertex.props])
        need = n * record.itemsize
        if len(data) - offset < need:
            raise MeshFileError(name, f"truncated: the header declares {n} vertices, which need {need} bytes of "
                                      f"data, but the file holds {max(len(data) - offset, 0)}")
        table = np.frombuffer(data, dtype=record, count=n, offset=offset)
        columns = {p: table[p].astype(np.float64) for p in props}

    def stack(names: list[str]) -> torch.Tensor:
        if not names:
            return torch.zeros(n, 0, dtype=dtype)
        return torch.from_numpy(np.stack([columns[p] for p in names], axis=1)).to(dtype)

    means = stack(["x", "y", "z"])
    dc = stack(["f_dc_0", "f_dc_1", "f_dc_2"])
    k = (degree + 1) ** 2
    rest = stack([f"f_rest_{i}" for i in range(n_rest)]).reshape(n, 3, k - 1).transpose(1, 2)  # (N, K-1, 3)
    sh = torch.cat([dc[:, None], rest], dim=1)
    opacity = stack(["opacity"])[:, 0]
    log_scales = stack(scale_names)
    quats = stack(["rot_0", "rot_1", "rot_2", "rot_3"])
    for values, what in ((means, "position"), (sh, "colour"), (opacity, "opacity"), (log_scales, "scale"),
                         (quats, "rotation")):
        bad = ~torch.isfinite(values.reshape(n, -1)).all(dim=1)
        if bool(bad.any()):
            raise MeshFileError(name, f"Gaussian {int(bad.nonzero()[0, 0])} has a non-finite {what}")
    zero = (quats == 0).all(dim=1)
    if bool(zero.any()):
        raise MeshFileError(name, f"Gaussian {int(zero.nonzero()[0, 0])} has a zero rotation quaternion")
    return Gaussians(means, quats, log_scales, opacity, sh).to(device)
