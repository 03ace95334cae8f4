"""Reading what ``inverse3d view`` shows (no viser needed): every kind of input, the one-line errors of bad paths,
and the viewer's camera rays and Gaussian covariances against slow, obvious loops."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from inverse3d.io.errors import MeshFileError
from inverse3d.viewer.checkpoints import ViewCamera, camera_rays, checkpoint_task
from inverse3d.viewer.live import look_at_camera, parse_address
from inverse3d.viewer.sources import (GaussiansItem, MeshItem, PointsItem, SceneItem, VoxelsItem, gaussians_item,
                                      load_source, read_gaussians_minimal, voxels_to_mesh)

from .helpers import GAUSSIAN_NAMES, write_gaussians


def test_meshes_keep_textures_and_colours(files):
    tex = load_source(files["tex.obj"])
    assert isinstance(tex, MeshItem) and tex.verts.shape == (42, 3) and tex.faces.shape == (80, 3)
    assert tex.uvs.shape == (80, 3, 2) and tex.texture.dtype == np.uint8 and tex.texture.shape[-1] == 3
    assert tex.texture[..., 0].max() == 255 and tex.texture[..., 2].max() == 255  # the red and blue stripes
    col = load_source(files["col.ply"])
    assert isinstance(col, MeshItem) and col.texture is None
    np.testing.assert_allclose(col.colors, (col.verts + 1) / 2, atol=1 / 255)


def test_points_voxels_and_scene(files):
    pts = load_source(files["pts.ply"])  # a PLY without faces is a point cloud
    assert isinstance(pts, PointsItem) and pts.points.shape == (42, 3) and pts.colors.shape == (42, 3)
    npz = load_source(files["pts.npz"])
    assert isinstance(npz, PointsItem) and npz.points.shape == (50, 3)
    vox = load_source(files["vox.npz"])
    assert isinstance(vox, VoxelsItem) and vox.grid.shape == (6, 6, 6)
    np.testing.assert_array_equal(vox.bounds, [[-1, -1, -1], [1, 1, 1]])
    pt = load_source(files["vox.pt"])
    assert isinstance(pt, VoxelsItem) and pt.bounds.tolist() == [[-0.5] * 3, [0.5] * 3]
    scene = load_source(files["box"])
    assert isinstance(scene, SceneItem) and len(scene.cameras) == 5  # every split: 3 + 1 + 1
    assert scene.mesh is not None and scene.points.points.shape == (100, 3)
    cam = scene.cameras[0]
    assert cam.image.dtype == np.uint8 and cam.image.shape == (16, 16, 3) and cam.aspect == 1.0
    rot = cam.c2w[:3, :3]
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-5)


@pytest.mark.parametrize("style", ["cubes", "marching-cubes"])
def test_voxel_meshes_fill_the_occupied_cells(files, style):
    vox = load_source(files["vox.npz"])  # cells [1:4, 2:5, 1:5] (z, y, x) of a 6^3 grid over [-1, 1]^3
    mesh = voxels_to_mesh(vox, style)
    lo, hi = mesh.verts.min(0), mesh.verts.max(0)
    cell = 2.0 / 6
    expected_lo = -1 + cell * np.array([1, 2, 1])  # x from w, y from h, z from d
    expected_hi = -1 + cell * np.array([5, 5, 4])
    tol = 1e-5 if style == "cubes" else cell  # marching cubes cuts corners at level 0.5: within a cell
    np.testing.assert_allclose(lo, expected_lo, atol=tol)
    np.testing.assert_allclose(hi, expected_hi, atol=tol)
    if style == "cubes":  # a 4 x 3 x 3 box of cubes: 2 (12 + 12 + 9) outer squares, 2 triangles each
        assert mesh.faces.shape[0] == 2 * 2 * (12 + 12 + 9)


def quaternion_matrix_loop(w, x, y, z):
    """The rotation of a unit quaternion (w, x, y, z), written out entry by entry."""
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def test_gaussian_ply_is_detected_and_activated(files, tmp_path):
    rng = np.random.default_rng(1)
    table = write_gaussians(tmp_path / "g.ply", rng, n=7)
    item = load_source(tmp_path / "g.ply")
    assert isinstance(item, GaussiansItem)
    col = {k: table[:, i].astype(np.float64) for i, k in enumerate(GAUSSIAN_NAMES)}
    for i in range(7):  # one Gaussian at a time, as the 3DGS paper writes it
        q = np.array([col[f"rot_{j}"][i] for j in range(4)])
        R = quaternion_matrix_loop(*(q / np.linalg.norm(q)))
        S = np.diag([math.exp(col[f"scale_{j}"][i]) for j in range(3)])
        np.testing.assert_allclose(item.covariances[i], R @ S @ S @ R.T, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(item.centers[i], [col["x"][i], col["y"][i], col["z"][i]], rtol=1e-6)
        rgb = [min(max(0.5 + 0.28209479177387814 * col[f"f_dc_{j}"][i], 0), 1) for j in range(3)]
        np.testing.assert_allclose(item.rgbs[i], rgb, atol=1e-6)
        np.testing.assert_allclose(item.opacities[i, 0], 1 / (1 + math.exp(-col["opacity"][i])), rtol=1e-5)
    # the fallback reader (used where inverse3d.io has no 3DGS reader) reads the same file to the same values
    fallback = gaussians_item("g", *read_gaussians_minimal(tmp_path / "g.ply"))
    np.testing.assert_allclose(fallback.covariances, item.covariances, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(fallback.rgbs, item.rgbs, atol=1e-6)


def test_camera_rays_match_a_pixel_loop():
    rng = np.random.default_rng(2)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    cam = ViewCamera(rng.normal(size=3), q, 0.9, 3, 5)
    origins, dirs = camera_rays(cam)
    R = quaternion_matrix_loop(*q)
    f = 0.5 * 3 / math.tan(0.45)
    k = 0
    for row in range(3):
        for col in range(5):
            d_cam = np.array([(col + 0.5 - 2.5) / f, (row + 0.5 - 1.5) / f, 1.0])
            np.testing.assert_allclose(dirs[k].numpy(), R @ d_cam, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(origins[k].numpy(), cam.position, rtol=1e-6)
            k += 1


def test_look_at_camera_points_at_the_target():
    cam = look_at_camera([1.0, 2.0, 3.0], [0.0, 0.5, 0.0], 0.8, 5, 5)
    _, dirs = camera_rays(cam)
    centre = dirs[12].double().numpy()  # the middle pixel of 5 x 5
    to_target = np.array([-1.0, -1.5, -3.0])
    np.testing.assert_allclose(centre / np.linalg.norm(centre), to_target / np.linalg.norm(to_target), atol=1e-6)
    assert dirs[2, 1] > dirs[22, 1]  # the top row looks higher (+Y up) than the bottom row


@pytest.mark.parametrize("text, expected", [("8081", ("127.0.0.1", 8081)), ("0.0.0.0:9000", ("0.0.0.0", 9000)),
                                            ("localhost", ("localhost", 8080)), ("[::1]:7000", ("::1", 7000)),
                                            (":0", ("127.0.0.1", 0))])
def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["host:port", "my host:80", "70000"])
def test_parse_address_rejects(text):
    with pytest.raises(ValueError, match="--viewer"):
        parse_address(text)


def test_bad_files_get_one_line_errors(tmp_path):
    cases = {
        "missing.ply": None,
        "notes.txt": b"hello",
        "bad.ply": b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n",  # no end_header
        "empty.obj": b"",
        "keys.npz": None,
        "shape.npz": None,
        "nan.pt": None,
        "other.pt": None,
    }
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    np.savez(tmp_path / "keys.npz", weights=np.zeros(3))
    np.savez(tmp_path / "shape.npz", voxels=np.zeros((4, 4)))
    torch.save({"voxels": torch.full((2, 2, 2), float("nan"))}, tmp_path / "nan.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    for name in cases:
        with pytest.raises(ValueError) as info:
            load_source(tmp_path / name)
        message = str(info.value)
        assert name in message and "\n" not in message, message


def test_checkpoint_of_an_unknown_task():
    with pytest.raises(ValueError, match="cannot render.*nerf"):
        checkpoint_task({"format": "inverse3d-train", "model_config": {}}, "single.pt")
    assert checkpoint_task({"nerf_config": {}}, "n.pt") == "nerf"


def _view(cwd, *argv):
    return subprocess.run([sys.executable, "-m", "inverse3d.cli.main", "view", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))


@pytest.mark.slow
def test_cli_bad_paths_fail_before_the_server_starts(files, tmp_path):
    (tmp_path / "x.xyz").write_text("1 2 3\n")
    for args, expected in [([str(files["tex.obj"]), "missing.obj"], "missing.obj: no such file"),
                           (["x.xyz"], "unknown format '.xyz'")]:
        p = _view(tmp_path, *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, p.stderr)
        assert "viewer at" not in p.stdout and "http://" not in p.stdout


@pytest.mark.parametrize("option, expected", [({"port": 70000}, "--port"), ({"voxels": "spheres"}, "--voxels"),
                                              ({"host": "a b"}, "--host"), ({"seconds": 0.0}, "--seconds")])
def test_cli_bad_options(files, option, expected):
    from inverse3d.cli.view import Args, run

    with pytest.raises(ValueError, match=expected):
        run(Args(paths=(str(files["tex.obj"]),), **option))


def test_textured_mesh_for_the_browser_samples_like_trimesh(files):
    """The trimesh mesh handed to viser (corners unshared, uvs per corner) shows the same colour at every face
    corner as trimesh's own reading of the OBJ with its MTL and PNG."""
    import trimesh

    from inverse3d.viewer.app import mesh_to_trimesh

    ref = trimesh.load(files["tex.obj"], process=False)
    ours = mesh_to_trimesh(load_source(files["tex.obj"]))
    np.testing.assert_allclose(ours.vertices[ours.faces], ref.vertices[ref.faces], atol=1e-6)
    colour_ref = ref.visual.to_color().vertex_colors[ref.faces][..., :3].astype(int)
    colour_ours = ours.visual.to_color().vertex_colors[ours.faces][..., :3].astype(int)
    assert np.abs(colour_ref - colour_ours).max() <= 2
    assert len(np.unique(colour_ours.reshape(-1, 3), axis=0)) >= 2  # both stripes are used


def test_without_viser_the_commands_name_the_extra(files, tmp_path, monkeypatch):
    from inverse3d.cli.view import Args, run
    from inverse3d.viewer.live import training_viewer

    monkeypatch.setitem(sys.modules, "viser", None)  # as if the extra were not installed
    with pytest.raises(ValueError, match=r"pip install -e '\.\[viewer\]'"):
        run(Args(paths=(str(files["tex.obj"]),)))
    with pytest.raises(ValueError, match=r"--viewer: .*pip install -e '\.\[viewer\]'"):
        with training_viewer("8080"):
            pass
    with training_viewer(None) as live:  # no --viewer: nothing is needed
        assert live is None


def test_splat_checkpoint_shows_its_gaussians(files, tmp_path):
    """A ``splat train`` checkpoint opens as its Gaussians, the same as the PLY the run exported."""
    from inverse3d.tasks.splat.train import SplatTrainConfig, train

    out = tmp_path / "splat"
    train(SplatTrainConfig(scene=str(files["box"]), out_dir=str(out), iterations=2, progress=False, device="cpu",
                           init_points=30, sh_degree=1))
    from_ckpt = load_source(out / "checkpoint.pt")
    from_ply = load_source(out / "gaussians.ply")
    assert isinstance(from_ckpt, GaussiansItem) and isinstance(from_ply, GaussiansItem)
    np.testing.assert_allclose(from_ckpt.centers, from_ply.centers, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(from_ckpt.covariances, from_ply.covariances, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(from_ckpt.rgbs, from_ply.rgbs, atol=1e-6)
