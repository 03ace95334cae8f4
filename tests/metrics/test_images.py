"""PSNR and SSIM against their formula, a loop over windows and scikit-image; LPIPS's local-weights-only loading."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest
import torch

from conftest import DEVICES
from inverse3d.metrics import images as image_metrics
from inverse3d.metrics.images import lpips, psnr, ssim, ssim_map
from reference.image_metrics import psnr_naive, ssim_naive


@pytest.fixture(autouse=True)
def _one_thread():
    """These images are tiny: one intra-op thread is fastest, and on a busy machine two are many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pair(shape, dtype=torch.float64, device="cpu", noise=0.15, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(shape, generator=gen, dtype=torch.float64)
    b = (a + noise * torch.randn(shape, generator=gen, dtype=torch.float64)).clamp(0, 1)
    return a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)


# ---------------------------------------------------------------------------------------------------------- PSNR


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_psnr_matches_formula(batch, dtype, device):
    a, b = _pair((*batch, 6, 5, 3), dtype, device)
    got = psnr(a, b, reduction="none")
    assert got.shape == batch and got.dtype == dtype and got.device.type == device
    flat_a, flat_b = a.reshape(-1, 6, 5, 3).cpu().tolist(), b.reshape(-1, 6, 5, 3).cpu().tolist()
    ref = torch.tensor([psnr_naive(x, y) for x, y in zip(flat_a, flat_b)], dtype=torch.float64).reshape(batch)
    torch.testing.assert_close(got.cpu().double(), ref, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(psnr(a, b).cpu().double(), ref.mean(), rtol=1e-5, atol=1e-4)


def test_psnr_mask_data_range_and_identical_images():
    a, b = _pair((2, 7, 6, 3))
    mask = torch.rand(2, 7, 6) > 0.4
    got = psnr(a, b, mask=mask, reduction="none")
    ref = [psnr_naive(a[i].tolist(), b[i].tolist(), mask[i].tolist()) for i in range(2)]
    torch.testing.assert_close(got, torch.tensor(ref, dtype=torch.float64))
    # a trailing singleton channel and float weights of 0/1 mean the same
    torch.testing.assert_close(psnr(a, b, mask=mask[..., None].double(), reduction="none"), got)
    # pixels outside the mask do not count
    b2 = b.clone()
    b2[~mask] = 1 - a[~mask]
    torch.testing.assert_close(psnr(a, b2, mask=mask, reduction="none"), got)
    # data_range: the same images in 0..255 give the same PSNR
    torch.testing.assert_close(psnr(255 * a, 255 * b, data_range=255.0), psnr(a, b))
    a8, b8 = (255 * a).round().to(torch.uint8), (255 * b).round().to(torch.uint8)  # no wrap-around in uint8
    ref8 = [psnr_naive(a8[i].tolist(), b8[i].tolist(), data_range=255.0) for i in range(2)]
    got8 = psnr(a8, b8, data_range=255.0, reduction="none")
    torch.testing.assert_close(got8, torch.tensor(ref8, dtype=torch.float32))
    torch.testing.assert_close(ssim(a8, b8, data_range=255.0, window_size=5),
                               ssim(a8.float(), b8.float(), data_range=255.0, window_size=5))
    assert psnr(a, a.clone()).item() == math.inf


# ---------------------------------------------------------------------------------------------------------- SSIM


@pytest.mark.parametrize("masked", [False, True])
def test_ssim_matches_loop_over_windows(masked):
    a, b = _pair((2, 14, 13, 2), noise=0.3)
    mask = (torch.rand(2, 14, 13) > 0.5) if masked else None
    got = ssim(a, b, mask=mask, reduction="none")
    ref = [ssim_naive(a[i].tolist(), b[i].tolist(), None if mask is None else mask[i].tolist()) for i in range(2)]
    torch.testing.assert_close(got, torch.tensor(ref, dtype=torch.float64), rtol=0, atol=1e-10)


def test_ssim_loop_with_small_window_and_data_range():
    a, b = _pair((9, 8, 3), noise=0.2, seed=3)
    got = ssim(200 * a, 200 * b, data_range=200.0, window_size=5, sigma=0.8)
    ref = ssim_naive((200 * a).tolist(), (200 * b).tolist(), data_range=200.0, window_size=5, sigma=0.8)
    assert abs(got.item() - ref) < 1e-10


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size,channels,data_range", [((32, 32), 3, 1.0), ((40, 27), 1, 1.0), ((24, 30), 3, 255.0)])
def test_ssim_matches_scikit_image(size, channels, data_range, dtype, device):
    from skimage.metrics import structural_similarity

    a, b = _pair((3, *size, channels), dtype, device, noise=0.2)
    a, b = a * data_range, b * data_range
    got = ssim(a, b, data_range=data_range, reduction="none")
    assert got.shape == (3,) and got.dtype == dtype
    ref = [
        structural_similarity(
            x.cpu().double().numpy(), y.cpu().double().numpy(), gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=data_range, channel_axis=-1,
        )
        for x, y in zip(a, b)
    ]
    np.testing.assert_allclose(got.cpu().double().numpy(), ref, rtol=0, atol=1e-4)


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_ssim_batch_shapes_and_reduction(batch):
    a, b = _pair((*batch, 16, 12, 3))
    per_image = ssim(a, b, reduction="none")
    assert per_image.shape == batch
    torch.testing.assert_close(ssim(a, b), per_image.mean())
    assert ssim_map(a, b).shape == (*batch, 6, 2, 3)
    assert torch.allclose(ssim(a, a.clone(), reduction="none"), torch.ones(batch, dtype=a.dtype))
    # a full mask is the unmasked metric; a mask over the border only is empty
    torch.testing.assert_close(ssim(a, b, mask=torch.ones(a.shape[:-1], dtype=torch.bool)), ssim(a, b))


def test_psnr_and_ssim_gradcheck():
    a, b = _pair((2, 6, 6, 2))
    a.requires_grad_(True)
    b.requires_grad_(True)
    mask = torch.rand(2, 6, 6) > 0.3
    mask[:, 2:4, 2:4] = True  # interior pixels for a 5x5 window
    assert torch.autograd.gradcheck(lambda x, y: psnr(x, y, reduction="none"), (a, b))
    assert torch.autograd.gradcheck(lambda x, y: psnr(x, y, mask=mask), (a, b))
    assert torch.autograd.gradcheck(lambda x, y: ssim(x, y, window_size=3, sigma=1.0, reduction="none"), (a, b))
    assert torch.autograd.gradcheck(lambda x, y: ssim(x, y, mask=mask, window_size=5, sigma=1.0), (a, b))


def test_bad_input_errors():
    a, b = _pair((2, 12, 12, 3))
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, b[:, :10])
    with pytest.raises(ValueError, match="channels-last"):
        ssim(a[0, 0], b[0, 0])
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        ssim(a[:, :8], b[:, :8])
    with pytest.raises(ValueError, match="odd"):
        ssim(a, b, window_size=4)
    with pytest.raises(ValueError, match="reduction"):
        psnr(a, b, reduction="sum")
    with pytest.raises(ValueError, match="mask must have shape"):
        psnr(a, b, mask=torch.ones(2, 12, 11))
    empty = torch.zeros(2, 12, 12, dtype=torch.bool)
    empty[0] = True
    with pytest.raises(ValueError, match="image 1 .* selects no pixel"):
        psnr(a, b, mask=empty)
    border = torch.zeros(2, 12, 12, dtype=torch.bool)
    border[:, :3] = True  # only rows whose windows leave the image
    with pytest.raises(ValueError, match="image 0 .* selects no pixel"):
        ssim(a, b, mask=border)


# --------------------------------------------------------------------------------------------------------- LPIPS


def test_lpips_without_the_package_says_which_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "lpips", None)  # ``import lpips`` now raises ImportError
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    a, b = _pair((1, 64, 64, 3), torch.float32)
    with pytest.raises(ImportError, match=r"pip install -e \.\[lpips\]"):
        lpips(a, b)


@pytest.mark.parametrize("net,filename", [("alex", "alexnet-owt-7be5be79.pth"), ("vgg", "vgg16-397923af.pth")])
def test_lpips_without_backbone_weights_names_the_file(monkeypatch, tmp_path, net, filename):
    pytest.importorskip("lpips")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    a, b = _pair((1, 64, 64, 3), torch.float32)
    with pytest.raises(FileNotFoundError) as info:
        lpips(a, b, net=net)
    message = str(info.value)
    assert "\n" not in message and filename in message and str(tmp_path / "hub" / "checkpoints") in message
    assert not (tmp_path / "hub" / "checkpoints" / filename).exists()  # nothing was downloaded


def test_lpips_reads_local_backbone_weights(monkeypatch, tmp_path):
    pytest.importorskip("lpips")
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    # Stand-in ImageNet weights: a seeded torchvision AlexNet trunk (the classifier is not used by LPIPS).
    torch.manual_seed(5)
    trunk = {f"features.{k}": v for k, v in torchvision.models.alexnet(weights=None).features.state_dict().items()}
    torch.save(trunk, checkpoints / "alexnet-owt-7be5be79.pth")

    a, b = _pair((2, 64, 64, 3), torch.float32, noise=0.3)
    a.requires_grad_(True)
    got = lpips(a, b, reduction="none")
    assert got.shape == (2,) and (got > 0).all()
    got.sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert torch.allclose(lpips(b, b.clone(), reduction="none"), torch.zeros(2), atol=1e-6)
    model = image_metrics._lpips_model("alex", str(checkpoints))
    torch.testing.assert_close(getattr(model.net.slice1, "0").weight, trunk["features.0.weight"])
    torch.testing.assert_close(getattr(model.net.slice5, "10").bias, trunk["features.10.bias"])
    # the linear layers are the package's own calibrated ones, not a fresh initialisation
    import lpips as lpips_package

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchvision's deprecation of ``pretrained``
        ref = lpips_package.LPIPS(net="alex", pnet_rand=True, verbose=False)
    torch.testing.assert_close(model.lin0.model[1].weight, ref.lin0.model[1].weight)

    torch.save({"features.99.weight": torch.zeros(1)}, checkpoints / "vgg16-397923af.pth")
    with pytest.raises(ValueError, match="not a torchvision vgg16 state dict"):
        lpips(a, b, net="vgg")
