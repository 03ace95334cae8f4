"""Where the cameras of a multi-view scene are: each drawn as a small frustum around the object (matplotlib 3D).

Any PyTorch3D-style cameras work (``FoVPerspectiveCameras``, ``PerspectiveCameras`` in NDC or screen space): the
frustum's corners are the image corners unprojected by the cameras themselves to a fixed depth, so what is drawn is
what the cameras see. World +Y (up in our convention) is drawn as the plot's vertical axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from inverse3d.viz.plots import _pyplot, _save_figure


def frustum_corners(cameras, image_size: tuple[int, int], depth: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera centres (N, 3) and the world positions (N, 4, 3) of the image corners at view depth ``depth``.

    image_size: (H, W) of the images the cameras make; the corners are the NDC extents of that image (the shorter side
    spans [-1, 1], CONVENTIONS.md), in the order top-left, top-right, bottom-right, bottom-left.
    """
    h, w = (int(s) for s in image_size)
    sx, sy = w / min(h, w), h / min(h, w)
    # NDC +X is left and +Y up: the image's top-left corner is (+sx, +sy)
    xy = torch.tensor([[sx, sy], [-sx, sy], [-sx, -sy], [sx, -sy]], dtype=torch.float32, device=cameras.device)
    n = len(cameras)
    xy_depth = torch.cat([xy, torch.full((4, 1), float(depth), device=cameras.device)], dim=1)
    xy_depth = xy_depth[None].expand(n, 4, 3).to(cameras.R.dtype)
    corners = cameras.unproject_points(xy_depth, world_coordinates=True, from_ndc=True)  # (N, 4, 3)
    return cameras.get_camera_center(), corners


def plot_camera_frusta(
    path: str | Path,
    cameras,
    image_size: tuple[int, int],
    points: torch.Tensor | np.ndarray | None = None,
    points_rgb: torch.Tensor | np.ndarray | None = None,
    depth: float | None = None,
    title: str = "cameras",
    highlight: Sequence[int] = (),
) -> Path:
    """Writes a PNG of every camera as a frustum (pyramid from its centre to its image corners) around ``points``.

    points: (P, 3) world points drawn as dots (e.g. the scene's surface samples), points_rgb (P, 3) in [0, 1].
    depth: how far the frusta reach; default 15% of the distance from the cameras' mean centre to the farthest camera.
    highlight: indices of cameras drawn in red (e.g. the views shown beside the plot).
    """
    plt = _pyplot()
    path = Path(path)
    centres = cameras.get_camera_center().detach().cpu().double()
    if depth is None:
        spread = (centres - centres.mean(0)).norm(dim=1).max().item()
        ref = points if points is not None else centres
        size = float(torch.as_tensor(np.asarray(ref), dtype=torch.float64).std(0).norm()) if len(ref) > 1 else 1.0
        depth = 0.15 * max(spread, size, 1e-3)
    centres, corners = frustum_corners(cameras, image_size, depth)
    centres, corners = centres.detach().cpu().numpy(), corners.detach().cpu().numpy()

    fig = plt.figure(figsize=(5.2, 5.2), dpi=100)
    ax = fig.add_subplot(projection="3d")

    def xyz(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # matplotlib's vertical axis is z; ours is +Y. X is mirrored so the plot is seen as a right-handed frame.
        return -a[..., 0], a[..., 2], a[..., 1]

    if points is not None:
        pts = np.asarray(points.detach().cpu() if torch.is_tensor(points) else points, dtype=np.float64)
        rgb = None
        if points_rgb is not None:
            rgb = np.clip(np.asarray(points_rgb.detach().cpu() if torch.is_tensor(points_rgb) else points_rgb), 0, 1)
            if rgb.shape != pts.shape:
                raise ValueError(f"points_rgb has shape {rgb.shape}; expected {pts.shape}, one colour per point")
        if len(pts) > 4000:
            keep = np.random.default_rng(0).choice(len(pts), 4000, replace=False)
            pts, rgb = pts[keep], None if rgb is None else rgb[keep]
        ax.scatter(*xyz(pts), s=1.0, c=rgb if rgb is not None else "0.4", depthshade=False)
    else:
        pts = np.zeros((0, 3))
    marked = set(int(i) for i in highlight)
    for i, (c, k) in enumerate(zip(centres, corners)):
        color = "tab:red" if i in marked else "tab:blue"
        lw = 1.4 if i in marked else 0.6
        for corner in k:
            ax.plot(*xyz(np.stack([c, corner])), color=color, lw=lw)
        ax.plot(*xyz(np.concatenate([k, k[:1]])), color=color, lw=lw)
        ax.plot(*xyz(np.stack([k[0], k[1]])), color="tab:orange", lw=lw * 1.5)  # the image's top edge
    everything = np.concatenate([centres, corners.reshape(-1, 3), pts])
    lo, hi = everything.min(0), everything.max(0)
    mid, half = (lo + hi) / 2, (hi - lo).max() / 2 + 1e-6
    ax.set_xlim(-mid[0] - half, -mid[0] + half)
    ax.set_ylim(mid[2] - half, mid[2] + half)
    ax.set_zlim(mid[1] - half, mid[1] + half)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("-x")
    ax.set_ylabel("z")
    ax.set_zlabel("y (up)")
    ax.set_title(title)
    fig.tight_layout()
    try:
        return _save_figure(fig, path)
    finally:
        plt.close(fig)
