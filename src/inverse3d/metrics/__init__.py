"""Metrics of reconstructions: F1@t, chamfer and voxel IoU of shapes (``shapes``); PSNR, SSIM, LPIPS of images
(``images``)."""

from inverse3d._lazy import attach

_EXPORTS = {
    "THRESHOLDS": ".shapes",
    "f1_scores": ".shapes",
    "chamfer_l2": ".shapes",
    "voxel_iou": ".shapes",
    "psnr": ".images",
    "ssim": ".images",
    "ssim_map": ".images",
    "gaussian_window": ".images",
    "lpips": ".images",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
