"""Random training rays across all views of a scene, precomputed once in bounded memory.

Every pixel of every training view becomes a ray: its direction (float32, 12 bytes), its colour over black and its
coverage (uint8, 4 bytes); origins are stored once per view (a pixel's view is ``index // (H W)``; per ray for
NeRF's NDC rays, 12 more bytes). That is 16 bytes
a ray, e.g. 1 GB for 100 views of 800 x 800; ``max_bytes`` bounds it (a clear error suggests ``--downscale``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["RayPool", "RayBatch"]

DEFAULT_MAX_BYTES = 4 << 30


@dataclass
class RayBatch:
    """A batch of R rays: origins (R, 3), directions (R, 3) (unit component along the viewing axis, so lengths are
    view depths), colour over black ``rgb`` (R, 3) in [0, 1], coverage ``alpha`` (R,) in [0, 1] (1 where the scene
    has no alpha)."""

    origins: torch.Tensor
    directions: torch.Tensor
    rgb: torch.Tensor
    alpha: torch.Tensor

    def target(self, background: torch.Tensor | None) -> torch.Tensor:
        """(R, 3) colour composited over ``background`` ((3,) or (R, 3)); over black when None."""
        if background is None:
            return self.rgb
        return self.rgb + (1.0 - self.alpha)[:, None] * background


class RayPool:
    """All pixels' rays of a ``SceneDataset`` loaded with ``white_background=False``.

    Attributes:
        n_rays: views x H x W; has_alpha: whether the images carry coverage (RGBA or masks).
    """

    def __init__(self, scene, device: str | torch.device = "cpu", max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if scene.white_background:
            raise ValueError("RayPool needs colours over black: load the scene with white_background=False")
        H, W = scene.image_size
        n = len(scene)
        need = n * H * W * 16
        if need > max_bytes:
            raise ValueError(f"the training rays need {need / 2**30:.1f} GiB (> {max_bytes / 2**30:.1f} GiB): "
                             "use a smaller --downscale or fewer views")
        self.device = torch.device(device)
        self.pixels = H * W
        self.image_size = (H, W)
        origins, directions, colors = [], [], []
        has_alpha = False
        for i in range(n):
            o, d = scene.rays(i)
            item = scene[i]
            origins.append(o.reshape(-1, 3))
            directions.append(d.reshape(-1, 3))
            mask = item["mask"]
            has_alpha = has_alpha or mask is not None
            a = torch.ones(H, W) if mask is None else mask.float()
            rgba = torch.cat([item["image"], a[..., None]], dim=-1).reshape(-1, 4)
            colors.append((rgba.clamp(0, 1) * 255).round().to(torch.uint8))
        per_view = all(bool((o == o[:1]).all()) for o in origins)  # pinhole: one centre per view; NDC: per ray
        self.per_view_origins = per_view
        self.origins = (torch.stack([o[0] for o in origins]) if per_view else torch.cat(origins)).to(self.device)
        self.directions = torch.cat(directions).to(self.device)  # (N H W, 3)
        self.colors = torch.cat(colors).to(self.device)  # (N H W, 4) uint8
        self.has_alpha = has_alpha
        self.n_rays = self.directions.shape[0]

    def gather(self, index: torch.Tensor) -> RayBatch:
        """The rays of flat pixel indices ``index`` (R,) (view-major)."""
        index = index.to(self.device)
        rgba = self.colors[index].float() / 255.0
        origins = self.origins[index // self.pixels] if self.per_view_origins else self.origins[index]
        return RayBatch(origins, self.directions[index], rgba[:, :3], rgba[:, 3])

    def sample(self, n: int, generator: torch.Generator | None = None) -> RayBatch:
        """``n`` rays drawn uniformly with replacement (from the global RNG unless ``generator``)."""
        index = torch.randint(0, self.n_rays, (n,), generator=generator)
        return self.gather(index)
