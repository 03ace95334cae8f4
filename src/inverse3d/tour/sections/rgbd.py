"""Point clouds from RGB-D images: a built-in scene rendered from two views, unprojected and joined."""

import torch

from inverse3d.tour.assets import furniture_scene
from inverse3d.tour.registry import TourContext
from inverse3d.viz.report import Section

NAME = "rgbd"
ORDER = 50


def build(ctx: TourContext) -> Section:
    from inverse3d.ops import rgbd_to_pointclouds
    from inverse3d.renderer import (FoVPerspectiveCameras, HardPhongShader, MeshRasterizer, MeshRendererWithFragments,
                                    PointLights, RasterizationSettings, look_at_view_transform)
    from inverse3d.viz.images import image_grid, save_image

    sec = Section(
        "Point clouds from RGB-D images",
        "A built-in scene (a procedural chair beside a table) is rendered from two views; each view's depth map (the "
        "rasteriser's zbuf) and colours are unprojected through its camera into world space, and the two clouds are "
        "joined. Surfaces that only one camera saw come from that view alone.",
    )
    scene = furniture_scene(ctx.device)
    R, T = look_at_view_transform(2.2, torch.tensor([25.0, 20.0]), torch.tensor([-35.0, 40.0]),
                                  at=((0.0, 0.3, 0.0),), device=ctx.device)
    cameras = FoVPerspectiveCameras(R=R, T=T, device=ctx.device)
    renderer = MeshRendererWithFragments(
        MeshRasterizer(cameras=cameras, raster_settings=RasterizationSettings(image_size=ctx.image_size)),
        HardPhongShader(device=ctx.device, cameras=cameras,
                        lights=PointLights(location=[[0.0, 3.0, 3.0]], device=ctx.device)),
    )
    with torch.no_grad():
        images, fragments = renderer(scene.extend(2))
    depth = fragments.zbuf[..., 0]
    mask = fragments.pix_to_face[..., 0] >= 0
    rgb = images[..., :3]
    near, far = depth[mask].min(), depth[mask].max()
    shade = torch.where(mask, (depth - near) / (far - near), torch.ones_like(depth))[..., None].expand(-1, -1, -1, 3)
    path = save_image(ctx.path("rgbd_inputs.png"), image_grid([rgb[0], rgb[1], shade[0], shade[1]], ncols=4))
    sec.add(path, "Inputs: the RGB of views 1 and 2, then their depth maps (near is dark).", "RGB-D inputs", wide=True)
    cloud = rgbd_to_pointclouds(rgb, depth, cameras, masks=mask)
    path = ctx.turntable(cloud, "rgbd_cloud.gif", elev=20.0)
    n_points = int(cloud.num_points_per_cloud().sum())
    sec.add(path, f"Both views unprojected and joined: {n_points} coloured points.", "Joined point cloud")
    return sec
