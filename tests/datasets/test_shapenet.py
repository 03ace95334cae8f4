"""ShapeNetCore, collate_batched_meshes, collate_batched_R2N2, BlenderCamera and render_cubified_voxels."""

import warnings

import pytest
import torch

from inverse3d.datasets import (BlenderCamera, ShapeNetCore, collate_batched_meshes, collate_batched_R2N2,
                                render_cubified_voxels)
from inverse3d.io import save_obj
from inverse3d.renderer import FoVPerspectiveCameras, RasterizationSettings, TexturesAtlas, look_at_view_transform
from inverse3d.structures import Meshes
from inverse3d.utils import ico_sphere, torus

CHAIR, TABLE, BOAT = "03001627", "04379243", "02858304"  # ids of ShapeNetCore's tables (boat: v1 only)


def _write(path, mesh, textured=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    verts, faces = mesh.verts_packed() * 0.4, mesh.faces_packed()
    if textured:  # uv = xy of the vertex, over a map red on the left and blue on the right
        tex = torch.zeros(4, 4, 3)
        tex[:, :2, 0], tex[:, 2:, 2] = 1.0, 1.0
        save_obj(path, verts, faces, verts_uvs=(verts[:, :2] + 0.5).clamp(0, 1), faces_uvs=faces, texture_map=tex)
    else:
        save_obj(path, verts, faces)
    return verts, faces


def _tree(root, version):
    """Two synsets (chair: two models, one textured; table: one), a stray folder and a model without its OBJ."""
    obj = "model.obj" if version == 1 else "models/model_normalized.obj"
    truth = {
        "chair_a": _write(root / CHAIR / "chair_a" / obj, ico_sphere(1), textured=True),
        "chair_b": _write(root / CHAIR / "chair_b" / obj, torus(0.2, 0.6, 5, 6)),
        "table_a": _write(root / TABLE / "table_a" / obj, ico_sphere(0)),
    }
    (root / CHAIR / "empty_model").mkdir()
    (root / "not_a_synset").mkdir()
    return truth


@pytest.fixture(params=[1, 2])
def shapenet(request, tmp_path):
    return tmp_path, request.param, _tree(tmp_path, request.param)


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ShapeNetCore(*args, **kwargs)


def test_items_and_ids(shapenet):
    root, version, truth = shapenet
    with pytest.warns(UserWarning) as record:
        data = ShapeNetCore(root, version=version)
    messages = " ".join(str(w.message) for w in record)
    assert "empty_model" in messages and "not found in the dataset location" in messages
    assert len(data) == 3
    assert sorted(zip(data.synset_ids, data.model_ids)) == [(CHAIR, "chair_a"), (CHAIR, "chair_b"), (TABLE, "table_a")]
    assert data.synset_inv == {"chair": CHAIR, "table": TABLE}
    assert data.synset_num_models == {CHAIR: 2, TABLE: 1}
    for i in range(len(data)):
        item = data[i]
        assert set(item) == {"verts", "faces", "textures", "synset_id", "model_id", "label"}
        verts, faces = truth[item["model_id"]]
        torch.testing.assert_close(item["verts"], verts)
        assert torch.equal(item["faces"], faces) and item["faces"].dtype == torch.int64
        assert item["label"] == {CHAIR: "chair", TABLE: "table"}[item["synset_id"]]
        assert item["textures"].shape == (faces.shape[0], 4, 4, 3)
        assert data.synset_ids[data.synset_start_idxs[item["synset_id"]]] == item["synset_id"]


def test_textures_atlas_and_resolution(shapenet):
    root, version, truth = shapenet
    data = _quiet(root, version=version, texture_resolution=2)
    items = {data[i]["model_id"]: data[i] for i in range(len(data))}
    textured, plain = items["chair_a"]["textures"], items["chair_b"]["textures"]
    assert textured.shape[1:] == (2, 2, 3) and plain.shape[1:] == (2, 2, 3)
    assert (plain == 1).all()  # no material: white
    # faces left of x = 0 read the red half of the map, faces right of it the blue half
    centres = truth["chair_a"][0][truth["chair_a"][1]].mean(1)  # (F, 3)
    left, right = centres[:, 0] < -0.1, centres[:, 0] > 0.1
    assert (textured[left][..., 0] > textured[left][..., 2]).all()
    assert (textured[right][..., 2] > textured[right][..., 0]).all()
    data = _quiet(root, version=version, load_textures=False)
    assert all(data[i]["textures"] is None for i in range(len(data)))


@pytest.mark.filterwarnings("ignore:The following categories")
def test_synsets_by_id_or_label_and_unknown_ones(shapenet):
    root, version, _ = shapenet
    data = _quiet(root, synsets=["chair"], version=version)
    assert data.synset_ids == [CHAIR, CHAIR] and data.synset_inv == {"chair": CHAIR}
    with pytest.warns(UserWarning, match="nonsense"):
        data = ShapeNetCore(root, synsets=[TABLE, "nonsense"], version=version)
    assert data.model_ids == ["table_a"]
    # boat is a version 1 category only
    (root / BOAT).mkdir()
    with pytest.warns(UserWarning, match=BOAT if version == 2 else "official mapping"):
        ShapeNetCore(root, synsets=[BOAT], version=version)


def test_bad_version_and_folder(tmp_path):
    with pytest.raises(ValueError, match="1 or 2"):
        ShapeNetCore(tmp_path, version=3)
    with pytest.raises(FileNotFoundError):
        ShapeNetCore(tmp_path / "absent")


def test_version_reads_its_own_layout(tmp_path):
    _tree(tmp_path, 2)
    data = _quiet(tmp_path, version=1)  # v2 files are not where v1 looks
    assert len(data) == 0


def test_collate_batched_meshes_in_a_dataloader(shapenet):
    root, version, truth = shapenet
    data = _quiet(root, version=version)
    loader = torch.utils.data.DataLoader(data, batch_size=3, collate_fn=collate_batched_meshes)
    batch = next(iter(loader))
    mesh = batch["mesh"]
    assert isinstance(mesh, Meshes) and len(mesh) == 3 and isinstance(mesh.textures, TexturesAtlas)
    assert batch["model_id"] == data.model_ids and len(batch["verts"]) == 3
    for i, model in enumerate(batch["model_id"]):
        torch.testing.assert_close(mesh.verts_list()[i], truth[model][0])
        assert torch.equal(mesh.faces_list()[i], truth[model][1])
    no_tex = collate_batched_meshes([{"verts": torch.rand(3, 3), "faces": torch.tensor([[0, 1, 2]]), "textures": None}])
    assert no_tex["mesh"].textures is None
    assert collate_batched_meshes([]) is None
    assert collate_batched_meshes([{"x": 1}, {"x": 2}]) == {"x": [1, 2], "mesh": None}


def test_render_models(shapenet):
    root, version, _ = shapenet
    data = _quiet(root, version=version, load_textures=False)
    R, T = look_at_view_transform(1.5, 0, [0, 90])
    settings = RasterizationSettings(image_size=24)
    images = data.render(model_ids=["table_a", "chair_a"], cameras=FoVPerspectiveCameras(R=R, T=T),
                         raster_settings=settings)
    assert images.shape == (2, 24, 24, 4) and (images[..., 3] > 0).flatten(1).any(1).all()
    images = data.render(categories=["chair"], sample_nums=[1], raster_settings=settings,
                         cameras=FoVPerspectiveCameras(R=R, T=T))
    assert images.shape == (2, 24, 24, 4)  # one chair seen by both cameras
    one = data.render(idxs=[2], raster_settings=settings, cameras=FoVPerspectiveCameras(R=R[:1], T=T[:1]))
    assert one.shape[0] == 1
    with pytest.raises(ValueError, match="not found"):
        data.render(model_ids=["nope"])
    with pytest.raises(ValueError, match="not in the loaded dataset"):
        data.render(categories=["airplane"])
    with pytest.raises(IndexError):
        data.render(idxs=[5])
    with pytest.raises(ValueError, match="Mismatch"):
        data.render(model_ids=["table_a", "chair_a", "chair_b"], cameras=FoVPerspectiveCameras(R=R, T=T))
    with pytest.warns(UserWarning, match="with replacement"):
        data._handle_render_inputs(categories=["table"], sample_nums=[3])


def test_collate_batched_r2n2_stacks_equal_shapes():
    mesh = ico_sphere(0)
    item = {"verts": mesh.verts_packed(), "faces": mesh.faces_packed(), "images": torch.rand(2, 8, 8, 3),
            "R": torch.eye(3).expand(2, 3, 3), "T": torch.zeros(2, 3), "K": torch.eye(4).expand(2, 4, 4),
            "voxels": torch.zeros(2, 4, 4, 4), "synset_id": CHAIR}
    batch = collate_batched_R2N2([item, dict(item, images=torch.rand(2, 8, 8, 3))])
    assert batch["images"].shape == (2, 2, 8, 8, 3) and batch["R"].shape == (2, 2, 3, 3)
    assert batch["K"].shape == (2, 2, 4, 4) and batch["voxels"].shape == (2, 2, 4, 4, 4)
    assert len(batch["mesh"]) == 2 and batch["synset_id"] == [CHAIR, CHAIR]
    with pytest.warns(UserWarning, match="different numbers of views"):
        batch = collate_batched_R2N2([item, dict(item, images=torch.rand(3, 8, 8, 3))])
    assert isinstance(batch["images"], list) and batch["R"].shape == (2, 2, 3, 3)
    no_k = {k: v for k, v in item.items() if k != "K"}
    assert isinstance(collate_batched_R2N2([no_k, no_k])["R"], list)  # R, T, K are stacked together or not at all


def test_blender_camera_projects_with_k():
    K = torch.eye(4)[None].clone()
    K[0, 0, 0], K[0, 1, 1], K[0, 2, 3] = 2.0, 3.0, 0.5  # x_ndc = 2x, y_ndc = 3y, z_ndc = z + 0.5, w = 1
    T = torch.tensor([[0.0, 0.0, 1.0]])
    camera = BlenderCamera(R=torch.eye(3)[None], T=T, K=K)
    points = torch.tensor([[[0.1, -0.2, 0.3]]])
    expected = torch.tensor([[[0.2, -0.6, 1.8]]])
    torch.testing.assert_close(camera.transform_points(points), expected)
    assert not camera.is_perspective() and camera.in_ndc()
    default = BlenderCamera()
    torch.testing.assert_close(default.transform_points(points), points)


def test_render_cubified_voxels():
    voxels = torch.zeros(2, 4, 4, 4)
    voxels[0, 1:3, 1:3, 1:3] = 1.0
    voxels[1, 0, 0, 0] = 0.1  # below the threshold 0.2: nothing drawn
    images = render_cubified_voxels(voxels, raster_settings=RasterizationSettings(image_size=16))
    assert images.shape == (2, 16, 16, 4)
    covered = images[..., 3] > 0
    assert covered[0].float().mean() > 0.1 and not covered[1].any()
    assert (images[0][covered[0]][:, :3] > 0).all()  # white, lit
