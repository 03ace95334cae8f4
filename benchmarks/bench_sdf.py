"""Signed distance fields: sphere tracing a frame of the many-primitive scene, and neural-SDF training steps.

- sphere tracing one 256 x 256 frame of ``many_primitives_scene`` (26 primitives with CSG, ground plane) from the
  camera of the tour (distance 2.6, elevation 30, azimuth 30), 64 steps at most, plus autograd normals and Phong
  shading (the whole ``SphereTracingRenderer`` call); the same without the infinite ground plane (a floor box);
- one training step of the point-cloud SDF fit (``inverse3d surface fit-points`` defaults: SDFMLP 4 x 128 with 4
  octaves, 2048 cloud points + 2048 near-surface + 1024 box points, surface + normal + eikonal + off-surface losses
  with the eikonal gradient's graph, Adam) -- the eikonal-loss step; the same with the course-size SDFMLP
  (8 x 256, 6 octaves) and with HashGridSDF (16 levels, 2^16 tables);
- the surface task's hash-grid SDF: value, gradient with its graph and features at 24,576 points (512 rays x 48
  samples) and the backward of an eikonal loss, with the analytic gradient against autograd through the whole
  network in the same run;
- the mesh SDF (exact distance + winding number) of 10,000 points against the procedural chair.
On a shared 2-core machine, ``--threads 1`` gives steadier numbers.
"""

from __future__ import annotations

import torch

from benchmarks.harness import Case


def _trace_frame(size: int, ground: bool):
    def make():
        from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform
        from inverse3d.renderer.sdf import SphereTracingRenderer, many_primitives_scene

        scene = many_primitives_scene(ground=ground)
        R, T = look_at_view_transform(2.6, 30.0, 30.0)
        renderer = SphereTracingRenderer(FoVPerspectiveCameras(R=R, T=T), image_size=size, max_iters=64, far=8.0)

        def run():
            with torch.no_grad():
                return renderer(scene).images

        return run

    return make


def _fit_step(build, n: int = 2048):
    def make():
        from inverse3d.tasks.surface.losses import (
            eikonal_loss,
            normal_loss,
            off_surface_loss,
            points_near_surface,
            random_points_in_box,
            surface_loss,
        )
        from inverse3d.tasks.surface.shapes import builtin_surface, sample_surface

        torch.manual_seed(0)
        points, normals = sample_surface(builtin_surface("chair", 0), 10000)
        net = build()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        lo, hi = points.amin(0) - 0.1, points.amax(0) + 0.1

        def step():
            idx = torch.randint(0, points.shape[0], (n,))
            x = torch.cat([points[idx], points_near_surface(points, n, 0.01), random_points_in_box(n // 2, lo, hi)])
            sdf, grad, _ = net.forward_with_gradient(x, create_graph=True)
            loss = (30 * surface_loss(sdf[:n]) + normal_loss(grad[:n], normals[idx]) + 0.1 * eikonal_loss(grad[n:])
                    + 0.1 * off_surface_loss(sdf[2 * n :]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        return step

    return make


def _eikonal_pass(n_points: int, analytic: bool):
    """SDF, gradient (with its graph) and features of the surface task's hash-grid SDF (12 levels, 2^15 tables,
    finest 256, 15 features) at ``n_points`` points, then the backward of an eikonal + SDF + feature loss: the
    analytic gradient (points without grad), or autograd through the whole network (points that require grad)."""

    def make():
        from inverse3d.models.fields import HashGridSDF

        torch.manual_seed(0)
        net = HashGridSDF(((-1.5,) * 3, (1.5,) * 3), radius=1.2, feature_dim=15, n_levels=12, log2_hashmap_size=15,
                          finest_resolution=256)
        x = torch.rand(n_points, 3) * 3 - 1.5

        def run():
            p = x if analytic else x.clone().requires_grad_(True)
            sdf, grad, feats = net.forward_with_gradient(p, create_graph=True)
            loss = (grad.norm(dim=-1) - 1).square().mean() + sdf.abs().mean() + feats.mean()
            net.zero_grad(set_to_none=True)
            loss.backward()
            return loss

        return run

    return make


def _mesh_sdf(n_points: int):
    def make():
        from inverse3d.renderer.sdf import mesh_sdf
        from inverse3d.tasks.surface.shapes import builtin_surface

        verts, faces = builtin_surface("chair", 0).mesh()
        points = torch.rand(n_points, 3, generator=torch.Generator().manual_seed(0)) - 0.5
        return lambda: mesh_sdf(points, verts, faces)

    return make


def cases() -> list[Case]:
    from inverse3d.models.fields import HashGridSDF, SDFMLP

    box = ((-0.6, -0.6, -0.6), (0.6, 0.6, 0.6))
    return [
        Case("sdf sphere trace 256x256 26 primitives (ground plane)", _trace_frame(256, True), repeats=3),
        Case("sdf sphere trace 256x256 26 primitives (floor box)", _trace_frame(256, False), repeats=3),
        Case("sdf fit-points step SDFMLP 4x128 (eikonal, defaults)",
             _fit_step(lambda: SDFMLP(4, 128, 4, skips=(2,), radius=0.3)), repeats=5),
        Case("sdf fit-points step SDFMLP 8x256 (eikonal, course size)",
             _fit_step(lambda: SDFMLP(8, 256, 6, skips=(4,), radius=0.3)), repeats=3),
        Case("sdf fit-points step HashGridSDF (eikonal)",
             _fit_step(lambda: HashGridSDF(box, radius=0.3, log2_hashmap_size=16, finest_resolution=256)),
             repeats=3),
        Case("sdf hash-grid SDF + gradient + eikonal backward, 24576 points (analytic gradient)",
             _eikonal_pass(24576, True), comparator=("autograd through the network", _eikonal_pass(24576, False)),
             repeats=3),
        Case("sdf mesh_sdf 10k points vs chair", _mesh_sdf(10000), repeats=3),
        Case("sdf tiny trace + step (tiny)", _tiny, repeats=2, tiny=True),
    ]


def _tiny():
    from inverse3d.models.fields import SDFMLP
    from inverse3d.renderer.sdf import Sphere, sphere_tracing

    o = torch.zeros(16, 3)
    o[:, 2] = -2.0
    d = torch.nn.functional.normalize(torch.rand(16, 3) * 0.2 + torch.tensor([0.0, 0.0, 1.0]), dim=-1)
    net = SDFMLP(2, 8, 1, skips=())

    def run():
        sphere_tracing(Sphere(0.5), o, d, max_iters=16)
        _, grad, _ = net.forward_with_gradient(o, create_graph=True)
        (grad.norm(dim=-1) - 1).square().mean().backward()

    return run
