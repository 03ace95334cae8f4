"""make_scene: the NeRF-synthetic layout with ground truth in the cameras' frame, a checked cache (manifest, checksums,
regeneration, resumption), byte-identical output for a seed, and one-line errors for bad input."""

import json
import shutil

import numpy as np
import pytest
import torch

from inverse3d.datasets.cache import sha256_file
from inverse3d.datasets.scenes import make as make_module
from inverse3d.datasets.scenes.make import MANIFEST, make_scene, scene_params, split_files

TINY = dict(image_size=16, n_train=2, n_val=1, n_test=1, n_points=2000, progress=False)


@pytest.fixture(scope="module")
def lego(tmp_path_factory):
    return make_scene("lego", tmp_path_factory.mktemp("scenes") / "lego", **TINY)


def _manifest(folder):
    return json.loads((folder / MANIFEST).read_text())


def _mtimes(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}


def test_layout_and_manifest(lego):
    manifest = _manifest(lego)
    assert manifest["complete"] and manifest["params"] == scene_params("lego", 16, 2, 1, 1, n_points=2000)
    assert manifest["splits"] == {"train": 2, "val": 1, "test": 1}
    expected = {"mesh.ply", "points.ply"} | {f for s, n in manifest["splits"].items() for f in split_files(s, n)}
    assert set(manifest["files"]) == expected
    for name, digest in manifest["files"].items():
        assert sha256_file(lego / name) == digest, name
    meta = json.loads((lego / "transforms_train.json").read_text())
    assert meta["camera_angle_x"] == pytest.approx(0.6911112070083618)
    assert meta["frames"][1]["file_path"] == "./train/r_1"
    assert meta["frames"][1]["depth_path"] == "./train/r_1_depth.npy"
    assert meta["inverse3d_scene"]["name"] == "lego"


def test_readable_by_the_blender_reader(lego):
    from inverse3d.datasets.scenes.dataset import load_scene

    ds = load_scene(lego, split="train")
    assert len(ds) == 2 and tuple(ds.image_size) == (16, 16)
    assert len(load_scene(lego, split="test")) == 1


def test_ground_truth_in_the_cameras_frame(lego):
    """Pixels back-projected with their depth and camera land on the surface sampled in points.ply."""
    from inverse3d.io import load_mesh, load_pointcloud
    from inverse3d.ops import knn_points, sample_points_from_meshes

    mesh = load_mesh(lego / "mesh.ply")
    assert mesh.textures is not None, "mesh.ply carries vertex colours"
    cloud = load_pointcloud(lego / "points.ply")
    points = cloud.points_packed()
    assert points.shape == (2000, 3) and cloud.normals_packed() is not None
    lo, hi = mesh.verts_packed().min(0).values, mesh.verts_packed().max(0).values
    assert bool((points >= lo - 1e-5).all() and (points <= hi + 1e-5).all())
    meta = json.loads((lego / "transforms_train.json").read_text())
    focal = 0.5 * 16 / np.tan(0.5 * meta["camera_angle_x"])
    dense = sample_points_from_meshes(mesh, 30_000)[0]

    def distance_to_mesh(flip):  # median distance of the back-projected pixels to the mesh
        surface = []
        for frame in meta["frames"]:
            depth = np.load(lego / frame["depth_path"])
            c2w = np.array(frame["transform_matrix"]) @ np.diag([1.0, flip, flip, 1.0])
            rows, cols = np.nonzero(depth > 0)
            z = depth[rows, cols]
            cam = np.stack([(cols + 0.5 - 8) / focal * z, -(rows + 0.5 - 8) / focal * z, -z], axis=1)
            surface.append(cam @ c2w[:3, :3].T + c2w[:3, 3])
        surface = torch.tensor(np.concatenate(surface), dtype=torch.float32)
        return float(knn_points(surface[None], dense[None], K=1).dists[0, :, 0].sqrt().median())

    # Depth is the nearest of a pixel's sub-pixels, so a 16-pixel image lands within a fraction of a pixel
    # (0.17 world units here); the OpenCV reading of the same matrices lands far off.
    assert distance_to_mesh(1.0) < 0.05, "depth maps, cameras and mesh.ply share one frame"
    assert distance_to_mesh(-1.0) > 0.3


def test_second_call_only_checks(lego, monkeypatch):
    before = _mtimes(lego)
    monkeypatch.setattr(make_module, "_write_split", lambda *a, **k: pytest.fail("regenerated a good split"))
    assert make_scene("lego", lego, **TINY) == lego
    assert _mtimes(lego) == before


def test_corrupt_file_is_regenerated(lego, tmp_path):
    folder = shutil.copytree(lego, tmp_path / "copy")
    good = sha256_file(folder / "val/r_0.png")
    untouched = (folder / "train/r_0.png").stat().st_mtime_ns
    (folder / "val/r_0.png").write_bytes(b"not a png")
    (folder / "points.ply").unlink()
    with pytest.warns(UserWarning, match="val/r_0.png: checksum mismatch"):
        make_scene("lego", folder, **TINY)
    assert sha256_file(folder / "val/r_0.png") == good
    assert (folder / "points.ply").is_file() and _manifest(folder)["complete"]
    assert (folder / "train/r_0.png").stat().st_mtime_ns == untouched, "only the damaged split is regenerated"


def test_changed_parameters_regenerate_and_remove_stale_files(lego, tmp_path):
    folder = shutil.copytree(lego, tmp_path / "copy")
    with pytest.warns(UserWarning, match="other parameters"):
        make_scene("lego", folder, **{**TINY, "n_train": 1, "image_size": 12})
    assert not (folder / "train/r_1.png").exists() and not (folder / "train/r_1_depth.npy").exists()
    from PIL import Image

    assert Image.open(folder / "train/r_0.png").size == (12, 12)
    assert _manifest(folder)["params"]["n_train"] == 1


def test_interrupted_run_resumes(tmp_path, monkeypatch):
    real = make_module._write_split

    def fail_on_val(folder, split, *args, **kwargs):
        if split == "val":
            raise KeyboardInterrupt
        return real(folder, split, *args, **kwargs)

    monkeypatch.setattr(make_module, "_write_split", fail_on_val)
    folder = tmp_path / "box"
    with pytest.raises(KeyboardInterrupt):
        make_scene("box", folder, **TINY)
    manifest = _manifest(folder)
    assert not manifest["complete"] and "train/r_0.png" in manifest["files"] and "val/r_0.png" not in manifest["files"]
    train_time = (folder / "train/r_0.png").stat().st_mtime_ns
    monkeypatch.setattr(make_module, "_write_split", real)
    make_scene("box", folder, **TINY)
    assert _manifest(folder)["complete"] and (folder / "val/r_0.png").is_file()
    assert (folder / "train/r_0.png").stat().st_mtime_ns == train_time


def test_same_seed_same_bytes_other_seed_other_bytes(lego, tmp_path):
    again = make_scene("lego", tmp_path / "again", **TINY)
    assert _manifest(again)["files"] == _manifest(lego)["files"]
    other = make_scene("lego", tmp_path / "other", **{**TINY, "seed": 1})
    a, b = _manifest(lego)["files"], _manifest(other)["files"]
    assert a["train/r_0.png"] != b["train/r_0.png"] and a["points.ply"] != b["points.ply"]


def test_box_scene(tmp_path):
    folder = make_scene("box", tmp_path / "box", image_size=16, n_val=1, n_test=2, n_points=500, progress=False)
    manifest = _manifest(folder)
    assert manifest["splits"]["train"] == 4, "four training views by default, as the course"
    assert manifest["scene"]["box"]["center"] == [0.25, 0.25, 0.0]
    assert manifest["scene"]["box"]["sides"] == [2.0, 1.5, 1.5]
    meta = json.loads((folder / "transforms_train.json").read_text())
    assert meta["inverse3d_scene"]["box"]["sides"] == [2.0, 1.5, 1.5] and meta["inverse3d_scene"]["volume_rendered"]
    from PIL import Image

    alpha = np.asarray(Image.open(folder / "train/r_0.png"))[..., 3]
    assert alpha.max() == 255 and alpha.min() == 0


def test_forward_scene_is_opaque(tmp_path):
    folder = make_scene("forward", tmp_path / "fwd", image_size=16, n_train=1, n_val=1, n_test=1, n_points=500,
                        progress=False)
    from PIL import Image

    rgba = np.asarray(Image.open(folder / "test/r_0.png"))
    assert (rgba[..., 3] == 255).all()
    assert _manifest(folder)["scene"]["background"] is not None


def test_foreign_folder_is_refused(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "transforms_train.json").write_text("{}")
    with pytest.raises(ValueError, match="no manifest.json"):
        make_scene("lego", folder, **TINY)
    assert sorted(p.name for p in folder.iterdir()) == ["transforms_train.json"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(name="legoo"), "unknown scene 'legoo'; choose one of lego, materials, box, forward"),
    (dict(image_size=4), "image_size must be an int >= 8; got 4"),
    (dict(n_train=0), "n_train must be an int >= 1; got 0"),
    (dict(n_test=-3), "n_test must be an int >= 1; got -3"),
    (dict(renderer="blender"), "unknown renderer 'blender'"),
    (dict(seed=-1), "seed must be"),
])
def test_bad_parameters(tmp_path, kwargs, match):
    args = {"name": "lego", **TINY, **kwargs}
    with pytest.raises(ValueError) as err:
        make_scene(args.pop("name"), tmp_path / "out", **args)
    assert match in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists(), "nothing is created before the parameters are checked"


def test_output_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        make_scene("lego", target, **TINY)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        make_scene("lego", target / "below", **TINY)


def test_pathtrace_without_mitsuba(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mitsuba" else real(name, *a))
    with pytest.raises(ValueError) as err:
        make_scene("lego", tmp_path / "pt", renderer="pathtrace", **TINY)
    assert "pip install -e .[photoreal]" in str(err.value) and "\n" not in str(err.value)


def test_pathtraced_scene(tmp_path):
    """Where the photoreal extra is installed: RGBA from the path tracer, depth and normals from the rasteriser."""
    pytest.importorskip("mitsuba")
    raster = make_scene("materials", tmp_path / "raster", image_size=8, n_train=1, n_val=1, n_test=1, n_points=100,
                        progress=False)
    traced = make_scene("materials", tmp_path / "traced", image_size=8, n_train=1, n_val=1, n_test=1, n_points=100,
                        progress=False, renderer="pathtrace", spp=4)
    a, b = _manifest(raster), _manifest(traced)
    assert b["params"]["renderer"] == "pathtrace" and b["params"]["spp"] == 4 and b["complete"]
    assert a["files"]["train/r_0_depth.npy"] == b["files"]["train/r_0_depth.npy"]
    assert a["files"]["train/r_0_normal.png"] == b["files"]["train/r_0_normal.png"]
    assert a["files"]["train/r_0.png"] != b["files"]["train/r_0.png"]
