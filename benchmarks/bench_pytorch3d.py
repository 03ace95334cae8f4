"""inverse3d against PyTorch3D's own CPU path, op by op, on the same inputs in the same process.

The comparator is PyTorch3D's implementation (its C++ CPU kernels where it has them) and runs only where PyTorch3D
can be imported: it cannot be installed from PyPI on Linux, so build it from a source checkout first, e.g.
``FORCE_CUDA=0 python setup.py build_ext --inplace`` in a clone of facebookresearch/pytorch3d (with ``-std=c++20``
for torch >= 2.10), then ``PYTHONPATH=/path/to/pytorch3d python -m benchmarks --filter "vs pytorch3d"``. Without it
only the inverse3d side is timed (the cases then have no comparator).
"""

from __future__ import annotations

import importlib

import torch

from benchmarks.harness import Case


def _lib(which: str, module: str):
    """``inverse3d.<module>`` or ``pytorch3d.<module>``."""
    try:
        return importlib.import_module(f"{which}.{module}")
    except ImportError as err:
        if which == "pytorch3d":
            raise RuntimeError("PyTorch3D is not importable here (build it from source; see this file's docstring)") from err
        raise


def _clouds(n: int, p: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, p, 3, generator=g)


def _farthest(which: str, n: int, p: int, k: int):
    def make():
        fn = _lib(which, "ops").sample_farthest_points
        pts = _clouds(n, p)
        return lambda: fn(pts, K=k)

    return make


def _ball_query(which: str, n: int, p: int, k: int, radius: float):
    def make():
        fn = _lib(which, "ops").ball_query
        p1, p2 = _clouds(n, p, 1), _clouds(n, p, 2)
        return lambda: fn(p1, p2, K=k, radius=radius)

    return make


def _knn(which: str, n: int, p: int, k: int):
    def make():
        fn = _lib(which, "ops").knn_points
        p1, p2 = _clouds(n, p, 1), _clouds(n, p, 2)
        return lambda: fn(p1, p2, K=k)

    return make


def _chamfer_bwd(which: str, n: int, p: int):
    def make():
        fn = _lib(which, "loss").chamfer_distance
        p1, p2 = _clouds(n, p, 1).requires_grad_(True), _clouds(n, p, 2)
        return lambda: fn(p1, p2)[0].backward()

    return make


def _point_mesh_face(which: str, level: int, n_points: int):
    def make():
        lib_loss, structures, utils = _lib(which, "loss"), _lib(which, "structures"), _lib(which, "utils")
        mesh = utils.ico_sphere(level)
        g = torch.Generator().manual_seed(0)
        pts = torch.nn.functional.normalize(torch.randn(n_points, 3, generator=g), dim=-1)
        pts = pts * (1 + 0.02 * torch.randn(n_points, 1, generator=g))
        verts = mesh.verts_packed().clone().requires_grad_(True)
        meshes = structures.Meshes([verts], [mesh.faces_packed()])
        clouds = structures.Pointclouds([pts])
        return lambda: lib_loss.point_mesh_face_distance(meshes, clouds).backward()

    return make


def _taubin(which: str, level: int):
    def make():
        ops, utils = _lib(which, "ops"), _lib(which, "utils")
        mesh = utils.ico_sphere(level).extend(2)
        return lambda: ops.taubin_smoothing(mesh, num_iter=10)

    return make


def _marching_cubes(which: str, res: int):
    def make():
        fn = _lib(which, "ops.marching_cubes").marching_cubes
        r = torch.linspace(-1, 1, res)
        z, y, x = torch.meshgrid(r, r, r, indexing="ij")
        vol = (x**2 + y**2 + z**2).sqrt()[None]  # (1, D, H, W)
        return lambda: fn(vol, isolevel=0.6)

    return make


def _box_overlap(which: str, n: int):
    def make():
        fn = _lib(which, "ops").box3d_overlap
        unit = torch.tensor([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
                            dtype=torch.float32)
        g = torch.Generator().manual_seed(0)
        b1 = unit[None] * (0.5 + torch.rand(n, 1, 3, generator=g)) + torch.rand(n, 1, 3, generator=g)
        b2 = unit[None] * (0.5 + torch.rand(n, 1, 3, generator=g)) + torch.rand(n, 1, 3, generator=g)
        return lambda: fn(b1, b2)

    return make


def _soft_silhouette(which: str, level: int, size: int, k: int):
    def make():
        import math

        r, utils = _lib(which, "renderer"), _lib(which, "utils")
        mesh = utils.ico_sphere(level)
        R, T = r.look_at_view_transform(2.7, 20.0, 60.0)
        sigma = 1e-4
        renderer = r.MeshRenderer(
            r.MeshRasterizer(cameras=r.FoVPerspectiveCameras(R=R, T=T), raster_settings=r.RasterizationSettings(
                image_size=size, blur_radius=math.log(1 / 1e-4 - 1) * sigma, faces_per_pixel=k, bin_size=0)),
            r.SoftSilhouetteShader(blend_params=r.BlendParams(sigma=sigma)),
        )
        verts = mesh.verts_packed().clone().requires_grad_(True)
        meshes = _lib(which, "structures").Meshes([verts], [mesh.faces_packed()])
        return lambda: renderer(meshes)[..., 3].sum().backward()

    return make


# (name, builder, args, repeats); each case times inverse3d, with PyTorch3D's CPU path as the comparator.
_CASES = [
    ("sample_farthest_points 4 x 20k -> 1k", _farthest, (4, 20_000, 1000), 3),
    ("ball_query 4 x 10k, K=32, r=0.05", _ball_query, (4, 10_000, 32, 0.05), 3),
    ("knn_points K=8 4 x 20k", _knn, (4, 20_000, 8), 3),
    ("chamfer 4 x 10k fwd+bwd", _chamfer_bwd, (4, 10_000), 3),
    ("point_mesh_face_distance ico5 x 20k fwd+bwd", _point_mesh_face, (5, 20_000), 3),
    ("taubin_smoothing 2 x ico5, 10 iterations", _taubin, (5,), 3),
    ("marching_cubes 64^3", _marching_cubes, (64,), 3),
    ("box3d_overlap 64 x 64", _box_overlap, (64,), 3),
    ("soft silhouette ico4 128px K=50 fwd+bwd", _soft_silhouette, (4, 128, 50), 3),
]


def _have_pytorch3d() -> bool:
    try:
        importlib.import_module("pytorch3d.ops")
    except ImportError:
        return False
    return True


def cases() -> list[Case]:
    """The cases above; without an importable PyTorch3D they run without comparator (inverse3d's times only)."""
    have = _have_pytorch3d()

    def case(name: str, build, args: tuple, repeats: int, tiny: bool = False) -> Case:
        comparator = ("pytorch3d CPU", build("pytorch3d", *args)) if have else None
        return Case(f"{name} (vs pytorch3d)", build("inverse3d", *args), comparator=comparator, repeats=repeats,
                    tiny=tiny)

    return [case(*row) for row in _CASES] + [case("knn_points K=1 2 x 200, tiny", _knn, (2, 200, 1), 1, True)]
