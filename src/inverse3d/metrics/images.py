"""Metrics of rendered images against ground truth: PSNR, SSIM (optionally masked) and LPIPS.

Images are channels-last, as everywhere in inverse3d: ``(..., H, W, C)`` with any number of leading (batch) dims,
e.g. ``(N, H, W, 3)`` or a single ``(H, W, 3)``. Each metric is computed per image and then reduced: ``reduction=
"none"`` returns one value per image (shape: the leading dims), ``"mean"`` their mean (a scalar).

- PSNR: ``10 log10(data_range**2 / MSE)`` with the MSE over all pixels and channels of an image (over the masked
  pixels only when a mask is given).
- SSIM as in the NeRF / mip-NeRF and 3DGS evaluations: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01,
  K2 = 0.03, the local statistics computed per channel and the SSIM map averaged over pixels and channels. The window
  is applied with *valid* padding: the map covers only the ``(H - 10) x (W - 10)`` pixels whose whole window lies
  inside the image. This is what mip-NeRF's ``compute_ssim`` and scikit-image's ``structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1)`` compute (scikit-image filters
  with reflected borders and then crops them away). 3DGS's ``ssim`` zero-pads instead ("same"), which gives slightly
  lower values near the border; the difference is about 1e-3 on 800x800 images.
- LPIPS through the ``lpips`` package (``pip install -e .[lpips]``), with the ImageNet backbone weights read from
  the local torch hub cache only; nothing is downloaded.

Everything is differentiable with respect to both images (PSNR and SSIM are plain tensor code; use ``1 - ssim`` as a
loss).
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from typing import Literal

import torch
import torch.nn.functional as F

Reduction = Literal["mean", "none"]

# torchvision weights of the LPIPS backbones: the files torchvision would download into <torch hub>/checkpoints.
_LPIPS_BACKBONES = {
    "alex": ("alexnet", "alexnet-owt-7be5be79.pth"),
    "vgg": ("vgg16", "vgg16-397923af.pth"),
    "squeeze": ("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth"),
}


def _check_pair(name: str, pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{name}: pred and target must have the same shape; got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    if pred.dim() < 3:
        raise ValueError(f"{name} expects channels-last images (..., H, W, C); got shape {tuple(pred.shape)}")


def _mask_weights(name: str, mask: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """A mask (..., H, W) or (..., H, W, 1), bool or float weights, as float (B, H, W) matching ``images``."""
    mask = torch.as_tensor(mask, device=images.device)
    if mask.dim() == images.dim() and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.shape != images.shape[:-1]:
        raise ValueError(f"{name}: mask must have shape {tuple(images.shape[:-1])} (or with a trailing 1) to match "
                         f"images {tuple(images.shape)}; got {tuple(mask.shape)}")
    dtype = images.dtype if images.is_floating_point() else torch.float32
    return mask.to(dtype).reshape(-1, *images.shape[-3:-1])


def _masked_mean(name: str, values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per-image weighted mean of ``values`` (B, H, W, C) over pixels and channels, weights (B, H, W) -> (B,)."""
    total = weights.sum(dim=(1, 2))  # (B,)
    empty = (total <= 0).nonzero()
    if len(empty):
        raise ValueError(f"{name}: the mask of image {int(empty[0, 0])} (flattened batch index) selects no pixel")
    return (values * weights[..., None]).sum(dim=(1, 2, 3)) / (total * values.shape[-1])


def _reduce(values: torch.Tensor, batch_shape: torch.Size, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "none":
        return values.reshape(batch_shape)
    raise ValueError(f"reduction must be 'mean' or 'none'; got {reduction!r}")


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    data_range: float = 1.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range**2 / MSE)``, per image.

    Args:
        pred, target: (..., H, W, C) images with values in [0, data_range].
        mask: optional (..., H, W) or (..., H, W, 1), bool or float weights; the MSE is then the (weighted) mean over
            the masked pixels only. A mask that selects no pixel of some image is an error.
        data_range: the span of pixel values (1.0 for float images, 255 for uint8 values).
        reduction: ``"mean"`` -> scalar mean over images; ``"none"`` -> one value per image, shape ``(...)``.

    Returns:
        PSNR in dB (``inf`` for identical images).
    """
    _check_pair("psnr", pred, target)
    batch_shape = pred.shape[:-3]
    dtype = pred.dtype if pred.is_floating_point() else torch.float32  # uint8 differences would wrap around
    diff2 = (pred.to(dtype) - target.to(dtype)).reshape(-1, *pred.shape[-3:]) ** 2  # (B, H, W, C)
    if mask is None:
        mse = diff2.mean(dim=(1, 2, 3))  # (B,)
    else:
        mse = _masked_mean("psnr", diff2, _mask_weights("psnr", mask, pred))
    value = 10.0 * torch.log10(data_range**2 / mse)
    return _reduce(value, batch_shape, reduction)


def gaussian_window(window_size: int = 11, sigma: float = 1.5, dtype=torch.float32, device=None) -> torch.Tensor:
    """The normalised 1D Gaussian (window_size,) of SSIM: ``exp(-x**2 / (2 sigma**2))`` at integer offsets."""
    x = torch.arange(window_size, dtype=torch.float64) - (window_size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def ssim_map(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """The SSIM map with a Gaussian window and valid padding.

    Args:
        pred, target: (..., H, W, C) images, H and W at least ``window_size``.

    Returns:
        (..., H - window_size + 1, W - window_size + 1, C): the SSIM of the window centred on each interior pixel,
        per channel; pixel (i, j) of the map is image pixel (i + r, j + r) with ``r = window_size // 2``.
    """
    _check_pair("ssim", pred, target)
    if window_size < 1 or window_size % 2 == 0:
        raise ValueError(f"ssim: window_size must be a positive odd number; got {window_size}")
    h, w, c = pred.shape[-3:]
    if h < window_size or w < window_size:
        raise ValueError(f"ssim: images of {h}x{w} pixels are smaller than the {window_size}x{window_size} window")
    dtype = pred.dtype if pred.is_floating_point() else torch.float32
    x = pred.to(dtype).reshape(-1, h, w, c).permute(0, 3, 1, 2)  # (B, C, H, W)
    y = target.to(dtype).reshape(-1, h, w, c).permute(0, 3, 1, 2)
    # Filter the five local statistics at once, as a depthwise separable convolution over (B, 5C, H, W).
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (B, 5C, H, W)
    g = gaussian_window(window_size, sigma, dtype=dtype, device=pred.device)  # (K,)
    k = stats.shape[1]
    stats = F.conv2d(stats, g.reshape(1, 1, -1, 1).expand(k, 1, -1, 1), groups=k)  # rows
    stats = F.conv2d(stats, g.reshape(1, 1, 1, -1).expand(k, 1, 1, -1), groups=k)  # columns
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.split(c, dim=1)  # each (B, C, H', W')
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    out = (num / den).permute(0, 2, 3, 1)  # (B, H', W', C)
    return out.reshape(*pred.shape[:-3], *out.shape[1:])


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Structural similarity with a Gaussian window (valid padding; see the module docstring), per image.

    Args:
        pred, target: (..., H, W, C) images with values in [0, data_range]; H, W >= window_size.
        mask: optional (..., H, W) or (..., H, W, 1), bool or float weights: the SSIM map is averaged over the masked
            pixels only, a map pixel counting when the pixel at its window's centre is masked (pixels within
            ``window_size // 2`` of the border have no map value and never count). A mask that selects no
            interior pixel of some image is an error.
        data_range: the span of pixel values; sets C1 = (0.01 data_range)^2 and C2 = (0.03 data_range)^2.
        window_size, sigma: the Gaussian window (11 and 1.5 in the NeRF and 3DGS evaluations).
        reduction: ``"mean"`` -> scalar mean over images; ``"none"`` -> one value per image, shape ``(...)``.

    Returns:
        SSIM in [-1, 1], 1 for identical images.
    """
    batch_shape = pred.shape[:-3]
    smap = ssim_map(pred, target, data_range, window_size, sigma)
    smap = smap.reshape(-1, *smap.shape[-3:])  # (B, H', W', C)
    if mask is None:
        value = smap.mean(dim=(1, 2, 3))
    else:
        r = window_size // 2
        weights = _mask_weights("ssim", mask, pred)[:, r : pred.shape[-3] - r, r : pred.shape[-2] - r]
        value = _masked_mean("ssim", smap, weights)
    return _reduce(value, batch_shape, reduction)


def _torch_hub_checkpoints() -> str:
    return os.path.join(torch.hub.get_dir(), "checkpoints")


@lru_cache(maxsize=4)
def _lpips_model(net: str, hub_dir: str):
    """The LPIPS network ``net`` with its backbone weights read from ``hub_dir`` (never downloaded)."""
    try:
        import lpips as lpips_package
    except ImportError:
        raise ImportError("lpips needs the optional 'lpips' package: pip install -e .[lpips]") from None
    arch, filename = _LPIPS_BACKBONES[net]
    path = os.path.join(hub_dir, filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"lpips(net={net!r}) needs the torchvision {arch} ImageNet weights at {path}, which is absent; copy "
            f"{filename} there (e.g. from a machine where torchvision.models.{arch}(weights='DEFAULT') has run)"
        )
    # A randomly initialised trunk (pnet_rand=True, nothing downloaded), then the local backbone weights; the linear
    # layers that LPIPS learnt on human judgements ship inside the package and are loaded by its constructor.
    with warnings.catch_warnings():  # lpips still passes torchvision's deprecated ``pretrained=False``
        warnings.simplefilter("ignore", UserWarning)
        model = lpips_package.LPIPS(net=net, pnet_rand=True, verbose=False)
    try:
        backbone = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        raise ValueError(f"lpips: cannot read the {arch} weights at {path}: {err}") from None
    # torchvision names the trunk's layers features.<i>.<param>; LPIPS splits them into slice<k>.<i>.<param>.
    where = {name: slice_name for slice_name, block in model.net.named_children() for name, _ in block.named_children()}
    state = {}
    for key, value in backbone.items():
        if not key.startswith("features."):
            continue  # the classifier, which LPIPS does not use
        _, index, param = key.split(".", 2)
        if index not in where:
            raise ValueError(f"lpips: {path} is not a torchvision {arch} state dict (unexpected key {key!r})")
        state[f"{where[index]}.{index}.{param}"] = value
    try:
        model.net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ValueError(f"lpips: {path} does not hold torchvision {arch} weights: {first}") from None
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def lpips(
    pred: torch.Tensor,
    target: torch.Tensor,
    net: Literal["alex", "vgg", "squeeze"] = "alex",
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Learned perceptual image patch similarity (Zhang et al. 2018) through the ``lpips`` package; lower is closer.

    The backbone's ImageNet weights are read from torchvision's cache, ``<torch.hub.get_dir()>/checkpoints/``
    (``alexnet-owt-7be5be79.pth`` for ``"alex"``, ``vgg16-397923af.pth`` for ``"vgg"``); when the file is absent this
    raises a one-line error naming it instead of downloading it. NeRF papers report ``"vgg"``, 3DGS ``"vgg"`` too,
    and most others ``"alex"``.

    Args:
        pred, target: (..., H, W, 3) images with values in [0, 1] (mapped to [-1, 1] as LPIPS expects).
        net: the backbone.
        reduction: ``"mean"`` -> scalar; ``"none"`` -> one value per image, shape ``(...)``.

    Returns:
        LPIPS distance, differentiable with respect to both images (the network is frozen).
    """
    _check_pair("lpips", pred, target)
    if pred.shape[-1] != 3:
        raise ValueError(f"lpips expects RGB images (..., H, W, 3); got shape {tuple(pred.shape)}")
    if net not in _LPIPS_BACKBONES:
        raise ValueError(f"lpips: net must be one of {sorted(_LPIPS_BACKBONES)}; got {net!r}")
    model = _lpips_model(net, _torch_hub_checkpoints())
    dtype = pred.dtype if pred.is_floating_point() else torch.float32
    model = model.to(device=pred.device, dtype=dtype)
    batch_shape = pred.shape[:-3]
    x = pred.to(dtype).reshape(-1, *pred.shape[-3:]).permute(0, 3, 1, 2)  # (B, 3, H, W)
    y = target.to(dtype).reshape(-1, *target.shape[-3:]).permute(0, 3, 1, 2)
    value = model(x, y, normalize=True).reshape(-1)  # (B,)
    return _reduce(value, batch_shape, reduction)

