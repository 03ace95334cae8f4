"""End to end through the soft rasteriser: fitting vertex offsets to target silhouettes from three views."""

import math

import torch

from inverse3d.renderer import (BlendParams, FoVPerspectiveCameras, MeshRasterizer, MeshRenderer,
                                RasterizationSettings, SoftSilhouetteShader, look_at_view_transform)
from inverse3d.utils import ico_sphere


def test_silhouette_fit_recovers_an_ellipsoid():
    sigma = 1e-4
    R, T = look_at_view_transform(2.7, torch.tensor([0.0, 30.0, 60.0]), torch.tensor([0.0, 90.0, 180.0]))
    cameras = FoVPerspectiveCameras(R=R, T=T)
    settings = RasterizationSettings(image_size=32, blur_radius=math.log(1 / 1e-4 - 1) * sigma, faces_per_pixel=10)
    renderer = MeshRenderer(MeshRasterizer(cameras=cameras, raster_settings=settings),
                            SoftSilhouetteShader(blend_params=BlendParams(sigma=sigma)))
    scale = torch.tensor([1.0, 0.5, 0.8])
    src = ico_sphere(1)
    target_mesh = src.update_padded(src.verts_padded() * scale)
    with torch.no_grad():
        target = renderer(target_mesh.extend(3))[..., 3]
    offsets = torch.zeros_like(src.verts_packed(), requires_grad=True)
    opt = torch.optim.Adam([offsets], lr=0.02)
    losses = []
    for _ in range(60):
        silhouettes = renderer(src.offset_verts(offsets).extend(3))[..., 3]
        loss = ((silhouettes - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    # The fitted shape is flattened along y like the target: its y extent shrank towards 0.5.
    fitted = (src.verts_packed() + offsets.detach())
    extent = fitted.max(0).values - fitted.min(0).values
    assert extent[1] < 0.8 * 2 and extent[1] < extent[0]
