"""Image encoder for single-view reconstruction: torchvision's ResNet-18 without its classifier.

The encoder takes channels-last RGB images in [0, 1] (the dataset's ``"images"``), applies the ImageNet
normalisation itself and returns one 512-d feature per image (the global average pool of the last stage).
Weights are random by default; ``pretrained=True`` loads torchvision's ImageNet weights, but only from the local
torch hub cache: inverse3d never downloads anything.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

FEATURE_DIM = 512
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def pretrained_weights_path() -> Path:
    """Where torchvision keeps ResNet-18's ImageNet weights in the torch hub cache (the file may be absent)."""
    from torchvision.models import ResNet18_Weights

    filename = ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


class ResNet18Encoder(nn.Module):
    """ResNet-18 feature extractor: (N, H, W, 3) images in [0, 1] -> (N, 512) features.

    Args:
        pretrained: load ImageNet weights from the local torch hub cache (``pretrained_weights_path()``);
            raises FileNotFoundError when they are not there (nothing is downloaded).
    """

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        if pretrained:
            path = pretrained_weights_path()
            if not path.is_file():
                raise FileNotFoundError(
                    f"--pretrained needs torchvision's ResNet-18 ImageNet weights at {path}, which is absent; "
                    "inverse3d never downloads: copy the file there (or set TORCH_HOME), or train without --pretrained"
                )
            try:
                net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            except Exception as err:  # a truncated download or another file under that name
                raise ValueError(f"cannot load the ResNet-18 weights in {path}: {err}") from err
        net.fc = nn.Identity()
        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, H, W, 3) float RGB in [0, 1], H, W >= 32. Returns (N, 512) float features."""
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (N, H, W, 3) RGB in [0, 1]; got shape {tuple(images.shape)}")
        if min(images.shape[1:3]) < 32:
            raise ValueError(f"images must be at least 32x32 pixels for ResNet-18; got {tuple(images.shape[1:3])}")
        x = images.permute(0, 3, 1, 2).to(self.mean.dtype)  # (N, 3, H, W)
        x = (x - self.mean) / self.std
        return self.net(x)  # (N, 512)
