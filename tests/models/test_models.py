"""Encoder and decoders: output shapes, gradients, options and errors, on tiny inputs."""

from __future__ import annotations

import pytest
import torch

from inverse3d.models.decoders import (
    ImplicitDecoder,
    MeshOffsetDecoder,
    PointMLPDecoder,
    VoxelConvDecoder,
    VoxelMLPDecoder,
    fourier_features,
)
from inverse3d.models.encoder import ResNet18Encoder, pretrained_weights_path
from inverse3d.models.single_view import MODEL_TYPES, SingleViewModel


def test_encoder_shape_and_normalisation_inside():
    enc = ResNet18Encoder().eval()
    images = torch.rand(2, 40, 48, 3)
    out = enc(images)
    assert out.shape == (2, 512)
    # the ImageNet normalisation is part of the model: a constant mean-colour image becomes zeros at the input
    mean_image = torch.tensor([0.485, 0.456, 0.406]).expand(1, 32, 32, 3)
    seen = []
    handle = enc.net.conv1.register_forward_hook(lambda m, inp, o: seen.append(inp[0]))
    enc(mean_image)
    handle.remove()
    torch.testing.assert_close(seen[0], torch.zeros(1, 3, 32, 32), atol=1e-6, rtol=0)


def test_encoder_rejects_bad_images():
    enc = ResNet18Encoder()
    with pytest.raises(ValueError, match="N, H, W, 3"):
        enc(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="at least 32"):
        enc(torch.rand(1, 16, 16, 3))


def test_pretrained_without_local_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        assert not pretrained_weights_path().exists()
        with pytest.raises(FileNotFoundError, match="never downloads"):
            ResNet18Encoder(pretrained=True)
    finally:
        torch.hub._hub_dir = None  # back to the default (TORCH_HOME-based) location


def test_pretrained_loads_from_the_local_cache(tmp_path):
    from torchvision.models import resnet18

    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        path = pretrained_weights_path()
        path.parent.mkdir(parents=True)
        torch.manual_seed(5)
        reference = resnet18()
        torch.save(reference.state_dict(), path)
        enc = ResNet18Encoder(pretrained=True)
        torch.testing.assert_close(enc.net.conv1.weight, reference.conv1.weight)
        path.write_bytes(b"not a checkpoint")
        with pytest.raises(ValueError, match="cannot load"):
            ResNet18Encoder(pretrained=True)
    finally:
        torch.hub._hub_dir = None


@pytest.mark.parametrize("res", [8, 16])
def test_voxel_decoders_shapes(res):
    f = torch.randn(3, 512)
    assert VoxelMLPDecoder(res)(f).shape == (3, res, res, res)
    assert VoxelConvDecoder(res, channels=16).train()(f).shape == (3, res, res, res)


def test_voxel_conv_decoder_needs_power_of_two():
    with pytest.raises(ValueError, match="4 \\* 2\\^k"):
        VoxelConvDecoder(12)


def test_point_and_mesh_decoders():
    f = torch.randn(2, 512)
    assert PointMLPDecoder(37, hidden=(64,))(f).shape == (2, 37, 3)
    dec = MeshOffsetDecoder(ico_level=1, hidden=(64,))
    verts = dec(f)
    assert verts.shape == (2, 42, 3) and dec.faces.shape == (80, 3)
    # offsets start small: the initial mesh is close to the template sphere
    assert (verts - dec.template).abs().max() < 0.2
    meshes = dec.meshes(verts)
    assert len(meshes) == 2 and meshes.verts_padded().shape == (2, 42, 3)


def test_implicit_decoder():
    dec = ImplicitDecoder(hidden=32, n_blocks=2, n_freqs=2)
    logits = dec(torch.randn(2, 512), torch.rand(2, 11, 3) - 0.5)
    assert logits.shape == (2, 11)
    with pytest.raises(ValueError, match="N, Q, 3"):
        dec(torch.randn(2, 512), torch.rand(3, 11, 3))
    x = torch.rand(4, 3)
    ff = fourier_features(x, 2)
    assert ff.shape == (4, 15)
    torch.testing.assert_close(ff[:, 3:6], torch.sin(torch.pi * x))


@pytest.mark.parametrize("kind", MODEL_TYPES)
def test_single_view_model_forward_predict_backward(kind):
    model = SingleViewModel(kind, voxel_res=8, n_points=16, ico_level=1)
    images = torch.rand(2, 32, 32, 3)
    if kind == "implicit":
        out = model(images, torch.rand(2, 9, 3) - 0.5)
        assert out.shape == (2, 9)
        with pytest.raises(ValueError, match="query points"):
            model(images)
    else:
        out = model(images)
        expected = {"vox": (2, 8, 8, 8), "vox_conv": (2, 8, 8, 8), "point": (2, 16, 3), "mesh": (2, 42, 3)}[kind]
        assert out.shape == expected
    out.square().mean().backward()
    assert model.encoder.net.conv1.weight.grad is not None
    model.eval()
    pred = model.predict(images)
    if kind in ("vox", "vox_conv", "implicit"):
        assert pred["voxel_logits"].shape == (2, 8, 8, 8)
    elif kind == "point":
        assert pred["points"].shape == (2, 16, 3)
    else:
        assert pred["verts"].shape == (2, 42, 3) and pred["faces"].shape == (80, 3)
    assert model.config["type"] == kind


def test_implicit_predict_queries_cell_centres():
    """predict() evaluates the field at the cell centres of the grid, in voxel_grid order (x from w)."""
    from inverse3d.ops.voxel_grid import grid_points

    model = SingleViewModel("implicit", voxel_res=8).eval()
    images = torch.rand(1, 32, 32, 3)
    grid = model.predict(images, chunk=100)["voxel_logits"]
    with torch.no_grad():
        direct = model(images, grid_points(8).view(1, -1, 3)).view(1, 8, 8, 8)
    torch.testing.assert_close(grid, direct, atol=1e-5, rtol=1e-5)


def test_unknown_type():
    with pytest.raises(ValueError, match="unknown model type"):
        SingleViewModel("nerf")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_single_view_model_cuda():
    model = SingleViewModel("point", n_points=8).cuda()
    assert model(torch.rand(2, 32, 32, 3, device="cuda")).device.type == "cuda"
