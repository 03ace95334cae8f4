"""3DGS PLY files: round trip, a file written by hand in the INRIA layout, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inverse3d.io import MeshFileError, load_gaussians_ply, save_gaussians_ply
from inverse3d.structures import Gaussians


def make(n=6, degree=2):
    g = torch.Generator().manual_seed(0)
    return Gaussians(torch.randn(n, 3, generator=g), torch.randn(n, 4, generator=g), torch.randn(n, 3, generator=g),
                     torch.randn(n, generator=g), torch.randn(n, (degree + 1) ** 2, 3, generator=g))


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip(tmp_path, degree):
    g = make(7, degree)
    path = tmp_path / "scene.ply"
    save_gaussians_ply(path, g)
    back = load_gaussians_ply(path)
    for f in ("means", "quats", "log_scales", "opacity_logits", "sh"):
        assert torch.equal(getattr(back, f), getattr(g, f)), f
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    header = path.read_bytes().split(b"end_header")[0].decode()
    assert "format binary_little_endian 1.0" in header and f"element vertex 7" in header
    props = [line.split()[-1] for line in header.splitlines() if line.startswith("property")]
    k = (degree + 1) ** 2
    assert props == (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
                     + [f"f_rest_{i}" for i in range(3 * (k - 1))]
                     + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def test_isotropic_written_as_three_scales(tmp_path):
    g = make(3, 0)
    iso = Gaussians(g.means, g.quats, g.log_scales[:, :1], g.opacity_logits, g.sh)
    save_gaussians_ply(tmp_path / "iso.ply", iso)
    back = load_gaussians_ply(tmp_path / "iso.ply")
    torch.testing.assert_close(back.scales, iso.scales)


def test_reads_inria_layout_by_hand(tmp_path):
    # the INRIA exporter: features_rest (N, K-1, 3) transposed to (N, 3, K-1) and flattened -> channel-major
    n, k = 4, 4
    rng = np.random.default_rng(0)
    xyz, dc = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    rest = rng.normal(size=(n, k - 1, 3))  # (N, K-1, 3): coefficient, channel
    opacity, scale, rot = rng.normal(size=(n, 1)), rng.normal(size=(n, 3)), rng.normal(size=(n, 4))
    names = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
             + [f"f_rest_{i}" for i in range(9)] + ["opacity"] + [f"scale_{i}" for i in range(3)]
             + [f"rot_{i}" for i in range(4)])
    rows = np.concatenate([xyz, np.zeros((n, 3)), dc, rest.transpose(0, 2, 1).reshape(n, -1), opacity, scale, rot],
                          axis=1)
    record = np.empty(n, dtype=[(name, "<f4") for name in names])
    for i, name in enumerate(names):
        record[name] = rows[:, i]
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 4\n" + "".join(
        f"property float {name}\n" for name in names) + "end_header\n"
    path = tmp_path / "point_cloud.ply"
    path.write_bytes(header.encode() + record.tobytes())
    g = load_gaussians_ply(path)
    assert g.sh_degree == 1
    f32 = lambda a: torch.from_numpy(a.astype(np.float32))  # noqa: E731
    torch.testing.assert_close(g.sh[:, 0], f32(dc))
    torch.testing.assert_close(g.sh[:, 1:], f32(rest))  # coefficient k of channel c back in place
    torch.testing.assert_close(g.means, f32(xyz))
    torch.testing.assert_close(g.opacity_logits, f32(opacity[:, 0]))
    torch.testing.assert_close(g.log_scales, f32(scale))
    torch.testing.assert_close(g.quats, f32(rot))


def test_ascii_and_reordered_properties(tmp_path):
    text = ("ply\nformat ascii 1.0\nelement vertex 2\nproperty float rot_0\nproperty float rot_1\n"
            "property float rot_2\nproperty float rot_3\nproperty double x\nproperty float y\nproperty float z\n"
            "property float f_dc_0\nproperty float f_dc_1\nproperty float f_dc_2\nproperty float opacity\n"
            "property float scale_0\nproperty uchar red\nend_header\n"
            "1 0 0 0 1 2 3 0.1 0.2 0.3 -1 -2 255\n0 1 0 0 4 5 6 0 0 0 2 -3 0\n")
    (tmp_path / "a.ply").write_text(text)
    g = load_gaussians_ply(tmp_path / "a.ply", dtype=torch.float64)
    assert g.isotropic and g.sh_degree == 0 and g.dtype == torch.float64
    torch.testing.assert_close(g.means, torch.tensor([[1.0, 2, 3], [4, 5, 6]], dtype=torch.float64))
    torch.testing.assert_close(g.log_scales[:, 0], torch.tensor([-2.0, -3.0], dtype=torch.float64))


def test_bad_files(tmp_path):
    good = tmp_path / "good.ply"
    save_gaussians_ply(good, make(3, 1))
    data = good.read_bytes()
    header_end = data.index(b"end_header\n") + len(b"end_header\n")
    cases = {
        "truncated.ply": (data[:-10], "truncated"),
        "missing.ply": (data.replace(b"property float opacity\n", b""), "vertex properties missing: opacity"),
        "rest.ply": (data.replace(b"property float f_rest_8\n", b""), "8 f_rest_\\* properties"),
        "text.ply": (b"hello", "not a PLY file"),
    }
    nan = bytearray(data)
    nan[header_end: header_end + 4] = np.float32(np.nan).tobytes()
    cases["nan.ply"] = (bytes(nan), "Gaussian 0 has a non-finite position")
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(MeshFileError, match=message) as err:
            load_gaussians_ply(path)
        assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    with pytest.raises(MeshFileError, match="no such file"):
        load_gaussians_ply(tmp_path / "absent.ply")
    with pytest.raises(MeshFileError, match="folder does not exist"):
        save_gaussians_ply(tmp_path / "no" / "x.ply", make(2))
    with pytest.raises(ValueError, match="expected Gaussians"):
        save_gaussians_ply(tmp_path / "x.ply", torch.zeros(3))
