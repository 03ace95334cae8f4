"""Full mesh renders (rasterise + shade): hard Phong of an ico sphere, soft Phong / soft silhouette fwd+bwd.

Raw rasterisation and the OpenGL (llvmpipe) comparator live in bench_rasterize.py (rasteriser's cases); where that
file exposes a comparator builder ``llvmpipe_comparator(level, size)`` the hard Phong cases use it.
"""

from __future__ import annotations

import math

import torch

from benchmarks.harness import Case


def _scene(level: int, size: int, faces_per_pixel: int = 1, sigma: float | None = None):
    from inverse3d.renderer import (
        BlendParams,
        FoVPerspectiveCameras,
        MeshRasterizer,
        PointLights,
        RasterizationSettings,
        TexturesVertex,
        look_at_view_transform,
    )
    from inverse3d.structures import Meshes
    from inverse3d.utils import ico_sphere

    sphere = ico_sphere(level)
    verts = sphere.verts_packed()
    mesh = Meshes([verts], [sphere.faces_packed()], textures=TexturesVertex([(verts + 1) / 2]))
    R, T = look_at_view_transform(2.7, 20.0, 30.0)
    cameras = FoVPerspectiveCameras(R=R, T=T)
    blur = 0.0 if sigma is None else math.log(1.0 / 1e-4 - 1.0) * sigma
    settings = RasterizationSettings(image_size=size, faces_per_pixel=faces_per_pixel, blur_radius=blur)
    lights = PointLights(location=[[2.0, 2.0, -2.0]])
    blend = BlendParams(sigma=sigma or 1e-4, gamma=1e-4)
    return mesh, cameras, MeshRasterizer(cameras=cameras, raster_settings=settings), lights, blend


def _hard_phong(level: int, size: int):
    def make():
        from inverse3d.renderer import HardPhongShader, MeshRenderer

        mesh, cameras, rasterizer, lights, _ = _scene(level, size)
        renderer = MeshRenderer(rasterizer, HardPhongShader(cameras=cameras, lights=lights))

        def run():
            with torch.no_grad():
                return renderer(mesh)

        return run

    return make


def _soft_fwd_bwd(shader_name: str, level: int, size: int, faces_per_pixel: int):
    def make():
        from inverse3d.renderer import MeshRenderer, SoftPhongShader, SoftSilhouetteShader

        sigma = 1e-4
        mesh, cameras, rasterizer, lights, blend = _scene(level, size, faces_per_pixel, sigma)
        if shader_name == "silhouette":
            shader = SoftSilhouetteShader(blend_params=blend)
        else:
            shader = SoftPhongShader(cameras=cameras, lights=lights, blend_params=blend)
        renderer = MeshRenderer(rasterizer, shader)
        verts = mesh.verts_padded().detach().clone()

        def run():
            v = verts.clone().requires_grad_(True)
            image = renderer(mesh.update_padded(v))
            image.sum().backward()
            return v.grad

        return run

    return make


def _comparator(level: int, size: int):
    """The rasteriser engineer's OpenGL comparator, when their benchmark file provides one."""
    try:
        from benchmarks import bench_rasterize
    except Exception:
        return None
    build = getattr(bench_rasterize, "llvmpipe_comparator", None)
    if build is None:
        return None
    return ("llvmpipe (moderngl)", build(level, size))


def cases() -> list[Case]:
    return [
        Case("hard phong ico5 (20k faces) 256px", _hard_phong(5, 256), comparator=_comparator(5, 256)),
        Case("hard phong ico5 (20k faces) 512px", _hard_phong(5, 512), comparator=_comparator(5, 512)),
        Case("soft phong ico5 128px K=50 fwd+bwd", _soft_fwd_bwd("phong", 5, 128, 50), repeats=3),
        Case("soft silhouette ico5 128px K=50 fwd+bwd", _soft_fwd_bwd("silhouette", 5, 128, 50), repeats=3),
        Case("hard phong ico2 32px (tiny)", _hard_phong(2, 32), tiny=True),
    ]
