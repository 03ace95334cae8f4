"""The course's format (PyTorch3D's NeRF project): ``NAME.pth`` cameras + splits, ``NAME.png`` views stacked."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from inverse3d.datasets.scenes.conventions import SceneFormatError
from inverse3d.datasets.scenes.course import read_course, write_course
from inverse3d.datasets.scenes.dataset import load_scene
from inverse3d.renderer import PerspectiveCameras

from reference.scene_formats import HEIGHT, WIDTH, make_cameras, orbit_c2w


def _write(tmp_path, n=4):
    cams = make_cameras(orbit_c2w(n), 40.0, 44.0, 26.0, 14.5)
    images = torch.rand(n, HEIGHT, WIDTH, 3, generator=torch.Generator().manual_seed(0))
    pth = write_course(tmp_path / "lego.pth", images, cams, split=[[0, 1], [2], [3]])
    return pth, cams, images


def test_layout_as_pytorch3d_reads_it(tmp_path):
    pth, cams, images = _write(tmp_path)
    data = torch.load(pth, weights_only=True)
    assert set(data) == {"cameras", "split"}
    assert set(data["cameras"]) == {"R", "T", "focal_length", "principal_point"}
    assert data["cameras"]["R"].shape == (4, 3, 3) and data["cameras"]["principal_point"].shape == (4, 2)
    assert [s.tolist() for s in data["split"]] == [[0, 1], [2], [3]]
    # what get_nerf_datasets does: chunk the tall image, build NDC cameras from the kwargs of each view
    tall = torch.FloatTensor(np.array(Image.open(pth.with_suffix(".png")))) / 255.0
    assert tall.shape == (4 * HEIGHT, WIDTH, 3)
    views = torch.stack(torch.chunk(tall, 4, dim=0))
    assert torch.allclose(views, torch.round(images * 255) / 255, atol=1e-6)
    X = torch.randn(10, 3) * 0.3
    for i in range(4):
        p3d = PerspectiveCameras(**{k: v[i][None] for k, v in data["cameras"].items()})
        assert p3d.in_ndc()
        ours = cams[i].transform_points_screen(X)
        theirs = p3d.transform_points_screen(X, image_size=(HEIGHT, WIDTH))
        assert torch.allclose(ours[:, :2], theirs[:, :2], atol=1e-4)


def test_read_back(tmp_path):
    pth, cams, images = _write(tmp_path)
    ds = load_scene(tmp_path, "train")
    assert ds.format == "course" and len(ds) == 2 and ds.image_size == (HEIGHT, WIDTH)
    assert ds.root == pth
    assert [f.tile for f in ds.frames] == [0, 1]
    assert torch.allclose(ds[1]["image"], torch.round(images[1] * 255) / 255, atol=1e-6)
    assert ds[1]["mask"] is None
    assert torch.allclose(ds.cameras.focal_length, cams.focal_length[:2], atol=1e-4)
    assert torch.allclose(ds.cameras.principal_point, cams.principal_point[:2], atol=1e-4)
    test = read_course(pth, "test")
    assert [f.name for f in test.frames] == ["3"]
    assert torch.allclose(test[0]["image"], torch.round(images[3] * 255) / 255, atol=1e-6)
    assert len(read_course(pth, "all")) == 4
    half = read_course(pth, "all", downscale=2)
    assert half.image_size == (HEIGHT // 2, WIDTH // 2) and half.frames[0].fx == pytest.approx(20.0, abs=1e-4)


def _resave(pth, data):
    buf = io.BytesIO()
    torch.save(data, buf)
    pth.write_bytes(buf.getvalue())


def test_bad_files(tmp_path):
    pth, _, _ = _write(tmp_path)
    good = torch.load(pth, weights_only=True)
    data = pth.read_bytes()
    pth.write_bytes(data[: len(data) // 2])
    with pytest.raises(SceneFormatError, match=r"lego\.pth: cannot load with torch\.load\(weights_only=True\)") as e:
        load_scene(pth)
    assert "\n" not in str(e.value)
    bad = {"cameras": dict(good["cameras"]), "split": good["split"]}
    bad["cameras"]["R"] = bad["cameras"]["R"].clone()
    bad["cameras"]["R"][2] *= 1.2
    _resave(pth, bad)
    with pytest.raises(SceneFormatError, match=r"lego\.pth frame 2: pose matrix is not a rigid transform"):
        load_scene(pth)
    bad["cameras"] = dict(good["cameras"], T=torch.zeros(4, 2))
    _resave(pth, bad)
    with pytest.raises(SceneFormatError, match=r"cameras\['T'\] must have shape \(4, 3\)"):
        load_scene(pth)
    bad["cameras"] = dict(good["cameras"], K=torch.eye(4)[None])
    _resave(pth, bad)
    with pytest.raises(SceneFormatError, match=r"unsupported camera parameters \['K'\]"):
        load_scene(pth)
    _resave(pth, {"cameras": good["cameras"], "split": [[0], [1], [9]]})
    with pytest.raises(SceneFormatError, match="'split' test index 9 out of range for 4 views"):
        load_scene(pth)
    _resave(pth, good)
    Image.new("RGB", (WIDTH, 4 * HEIGHT + 1)).save(pth.with_suffix(".png"))
    with pytest.raises(SceneFormatError, match=r"lego\.png: image height 129 is not a multiple of the 4 views"):
        load_scene(pth)


def test_arbitrary_pickle_is_refused(tmp_path):
    pth, _, _ = _write(tmp_path)
    import pathlib

    buf = io.BytesIO()
    torch.save({"cameras": pathlib.PurePosixPath("not/a/tensor"), "split": []}, buf)  # a global not allowed
    pth.write_bytes(buf.getvalue())
    with pytest.raises(SceneFormatError, match="weights_only"):
        load_scene(tmp_path)


def test_missing_png_and_ambiguous_folder(tmp_path):
    pth, _, _ = _write(tmp_path)
    pth.with_suffix(".png").unlink()
    with pytest.raises(FileNotFoundError, match=r"lego\.png: image file not found"):
        read_course(pth)
    _write(tmp_path)
    write_course(tmp_path / "fern.pth", torch.zeros(1, 4, 4, 3), make_cameras(orbit_c2w(1), 4.0, 4.0, 2.0, 2.0, 4, 4))
    with pytest.raises(SceneFormatError, match=r"several course scenes \(fern\.pth, lego\.pth\)"):
        load_scene(tmp_path)
