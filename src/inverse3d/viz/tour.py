"""The tour: the seed's "meshing around" gallery and what later parts add, on built-in assets, as one HTML page.

``build_tour(out_dir, ...)`` renders every section into ``out_dir`` and writes ``out_dir/index.html``. Each section is
a function ``(ctx) -> Section`` registered in ``SECTIONS``; a section that fails is reported on the page with its
error instead of hiding the others.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from inverse3d.viz.report import Section, write_page


@dataclass
class TourContext:
    """What every section needs: where to write, how big, and the user's optional mesh."""

    out_dir: Path
    image_size: int = 192
    n_frames: int = 24
    fps: int = 12
    mesh_path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    quick: bool = False

    def path(self, name: str) -> Path:
        media = self.out_dir / "media"
        media.mkdir(parents=True, exist_ok=True)
        return media / name


def _vertex_colored(verts: torch.Tensor, faces: torch.Tensor, color=(0.7, 0.7, 1.0)):
    from inverse3d.renderer import TexturesVertex
    from inverse3d.structures import Meshes

    rgb = torch.ones_like(verts) * torch.tensor(color, dtype=verts.dtype, device=verts.device)
    return Meshes(verts=[verts], faces=[faces], textures=TexturesVertex([rgb]))


def section_triangle(ctx: TourContext) -> Section:
    from inverse3d.viz.turntable import save_turntable

    sec = Section(
        "Meshing around: a triangle",
        "Three vertices and one face, rendered from cameras circling it. The rasteriser does not cull back faces "
        "unless asked, so the back is drawn too; Phong shading lights it with ambient light only, as PyTorch3D does.",
    )
    verts = torch.tensor([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=ctx.device)
    faces = torch.tensor([[0, 1, 2]], device=ctx.device)
    path = ctx.path("triangle.gif")
    save_turntable(_vertex_colored(verts, faces), path, n_frames=ctx.n_frames, image_size=ctx.image_size, fps=ctx.fps,
                   elev=10.0, progress=False)
    sec.add(path, "Meshes(verts (1, 3, 3), faces (1, 1, 3)) with a constant TexturesVertex colour.", "Triangle")
    return sec


def _cube():
    verts = torch.tensor(
        [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]],
        dtype=torch.float32,
    ) * 0.5
    faces = torch.tensor(
        [[0, 3, 2], [0, 2, 1], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
         [3, 7, 6], [3, 6, 2], [0, 4, 7], [0, 7, 3], [1, 2, 6], [1, 6, 5]]
    )
    return verts, faces


def section_cube(ctx: TourContext) -> Section:
    import imageio.v3 as iio

    from inverse3d.renderer import look_at_view_transform
    from inverse3d.viz.turntable import render_views

    sec = Section(
        "Building a cube face by face",
        "A cube needs 8 vertices and 12 triangles, two per square side. Each frame adds one triangle while the "
        "camera turns; the last frames show the closed, watertight cube.",
    )
    verts, faces = _cube()
    verts = verts.to(ctx.device)
    frames = []
    n = faces.shape[0]
    for k in range(1, n + 1):
        mesh = _vertex_colored(verts, faces[:k].to(ctx.device), (1.0, 0.75, 0.3))
        R, T = look_at_view_transform(2.6, 25.0, 30.0 * k, device=ctx.device)
        frames.append(render_views(mesh, R, T, image_size=ctx.image_size)[0])
    frames += frames[-1:] * 6
    path = ctx.path("cube_face_by_face.gif")
    iio.imwrite(path, torch.stack(frames).cpu().numpy(), duration=int(1000 / 4), loop=0)
    sec.add(path, "12 frames, one new triangle each (faces[:k] for k = 1..12).", "Cube, face by face")
    from inverse3d.viz.turntable import save_turntable

    path = ctx.path("cube.gif")
    save_turntable(_vertex_colored(verts, faces.to(ctx.device), (1.0, 0.75, 0.3)), path, n_frames=ctx.n_frames,
                   image_size=ctx.image_size, fps=ctx.fps, elev=25.0, progress=False)
    sec.add(path, "The finished cube: 8 vertices, 12 faces.", "Cube")
    return sec


def _textured_mesh(ctx: TourContext):
    """The user's mesh (--mesh) or the built-in textured globe; returns (mesh, description)."""
    if ctx.mesh_path is not None:
        from inverse3d.io import load_mesh

        return load_mesh(ctx.mesh_path, device=ctx.device), f"{Path(ctx.mesh_path).name}, loaded with its textures"
    from inverse3d.viz.assets import textured_globe

    return textured_globe(device=ctx.device), "the built-in globe: a UV sphere with a procedural TexturesUV map"


def section_textures(ctx: TourContext) -> Section:
    from inverse3d.renderer import TexturesVertex
    from inverse3d.viz.turntable import save_turntable

    sec = Section(
        "Rendering a textured mesh, and retexturing it",
        "TexturesUV samples an image at per-corner UV coordinates (bilinear); TexturesVertex interpolates one colour "
        "per vertex. Retexturing blends two colours along the z axis: alpha = (z - z_min) / (z_max - z_min), "
        "colour = alpha * colour2 + (1 - alpha) * colour1.",
    )
    mesh, what = _textured_mesh(ctx)
    path = ctx.path("textured.gif")
    save_turntable(mesh, path, n_frames=ctx.n_frames, image_size=ctx.image_size, fps=ctx.fps, elev=15.0, progress=False)
    sec.add(path, f"Textured: {what}.", "TexturesUV")
    verts = mesh.verts_packed()
    z = verts[:, 2]
    alpha = ((z - z.min()) / (z.max() - z.min()).clamp_min(1e-12))[:, None]
    c1 = torch.tensor([0.0, 0.0, 1.0], device=verts.device)
    c2 = torch.tensor([1.0, 0.0, 0.0], device=verts.device)
    retextured = mesh.clone()
    retextured.textures = TexturesVertex([alpha * c2 + (1 - alpha) * c1])
    path = ctx.path("retextured.gif")
    save_turntable(retextured, path, n_frames=ctx.n_frames, image_size=ctx.image_size, fps=ctx.fps, elev=15.0, progress=False)
    sec.add(path, "Retextured: blue at the back (z min) to red at the front (z max), a TexturesVertex.", "Gradient along z")
    return sec


def section_camera_moves(ctx: TourContext) -> Section:
    from inverse3d.transforms import euler_angles_to_matrix
    from inverse3d.viz.images import save_frames
    from inverse3d.viz.turntable import camera_path_frames, save_dolly_zoom

    sec = Section(
        "Camera moves",
        "Moving the camera instead of the mesh: a roll about the optical axis (R changes), a sideways translation "
        "(T changes, R stays), and a dolly zoom, where the field of view widens while the camera moves in so that the "
        "subject keeps its size and the perspective changes around it.",
    )
    mesh, _ = _textured_mesh(ctx)
    n = ctx.n_frames
    t = torch.linspace(0, 2 * math.pi, n + 1, device=ctx.device)[:-1]
    zeros = torch.zeros_like(t)
    roll = euler_angles_to_matrix(torch.stack([zeros, zeros, t], -1), "XYZ")
    path = save_frames(camera_path_frames(mesh, rotations=roll, image_size=ctx.image_size, progress=False),
                       ctx.path("camera_roll.gif"), fps=ctx.fps)
    sec.add(path, "Rolling the camera about its optical axis: R_t = R0 @ Rz(t), T_t = T0 @ Rz(t).", "Rotation (roll)")
    shift = torch.stack([0.8 * torch.sin(t), zeros, zeros], -1)
    path = save_frames(camera_path_frames(mesh, translations=shift, image_size=ctx.image_size, progress=False),
                       ctx.path("camera_translate.gif"), fps=ctx.fps)
    sec.add(path, "Translating the camera sideways: T_t = T0 + (0.8 sin t, 0, 0), R fixed.", "Translation")
    path = save_dolly_zoom(mesh, ctx.path("dolly_zoom.gif"), n_frames=n, image_size=ctx.image_size, fps=ctx.fps,
                           fov_range=(10.0, 100.0), progress=False)
    sec.add(path, "Dolly zoom: fov from 10 to 100 degrees, distance = half-width / tan(fov / 2).", "Dolly zoom")
    return sec


def _furniture_scene(device) -> "object":
    """A built-in scene: a procedural chair beside a procedural table, with their part colours."""
    from inverse3d.datasets.procedural import make_shape
    from inverse3d.renderer import TexturesVertex
    from inverse3d.structures import Meshes

    verts, faces, colors = [], [], []
    for category, seed, scale, shift in (("chair", 3, 1.0, (-0.45, 0.0, 0.1)), ("table", 5, 1.3, (0.45, 0.0, -0.1))):
        _, v, f, c = make_shape(category, seed)
        v = torch.as_tensor(v) * scale
        v = v - torch.tensor([0.0, float(v[:, 1].min()), 0.0]) + torch.tensor(shift)  # stand on y = 0
        faces.append(torch.as_tensor(f) + sum(len(x) for x in verts))
        verts.append(v)
        colors.append(torch.as_tensor(c))
    return Meshes(verts=[torch.cat(verts).to(device)], faces=[torch.cat(faces).to(device)],
                  textures=TexturesVertex([torch.cat(colors).to(device)]))


def section_rgbd(ctx: TourContext) -> Section:
    from inverse3d.ops import rgbd_to_pointclouds
    from inverse3d.renderer import (FoVPerspectiveCameras, HardPhongShader, MeshRasterizer, MeshRendererWithFragments,
                                    PointLights, RasterizationSettings, look_at_view_transform)
    from inverse3d.viz.images import image_grid, save_image
    from inverse3d.viz.turntable import save_turntable

    sec = Section(
        "Point clouds from RGB-D images",
        "A built-in scene (a procedural chair beside a table) is rendered from two views; each view's depth map (the "
        "rasteriser's zbuf) and colours are unprojected through its camera into world space, and the two clouds are "
        "joined. Surfaces that only one camera saw come from that view alone.",
    )
    scene = _furniture_scene(ctx.device)
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
    path = save_turntable(cloud, ctx.path("rgbd_cloud.gif"), n_frames=ctx.n_frames, image_size=ctx.image_size,
                          fps=ctx.fps, elev=20.0, progress=False)
    n_points = int(cloud.num_points_per_cloud().sum())
    sec.add(path, f"Both views unprojected and joined: {n_points} coloured points.", "Joined point cloud")
    return sec


def section_parametric(ctx: TourContext) -> Section:
    from inverse3d.utils import parametric_sphere, parametric_torus
    from inverse3d.viz.turntable import save_turntable

    sec = Section(
        "Parametric surfaces",
        "A parametric function maps (u, v) to a point on the surface: a sphere "
        "(sin v cos u, cos v, sin v sin u) and a torus ((R + r cos v) cos u, (R + r cos v) sin u, r sin v). Sampling "
        "(u, v) gives a point cloud, with no connectivity; colours follow (u, v).",
    )
    counts = (10, 20, 40) if ctx.quick else (50, 300, 1000)
    for name, fn in (("sphere", parametric_sphere), ("torus", parametric_torus)):
        for n in counts:
            cloud = fn(n, device=ctx.device)
            path = save_turntable(cloud, ctx.path(f"parametric_{name}_{n}.gif"), n_frames=ctx.n_frames,
                                  image_size=ctx.image_size, fps=ctx.fps, elev=20.0, progress=False)
            sec.add(path, f"{n} samples per parameter: a {n} x {n} grid of (u, v), "
                    f"{int(cloud.num_points_per_cloud()[0])} points.", f"{name.capitalize()}, {n} samples")
    return sec


def section_implicit(ctx: TourContext) -> Section:
    from inverse3d.utils import implicit_torus
    from inverse3d.viz.turntable import save_turntable

    sec = Section(
        "Implicit surfaces and marching cubes",
        "An implicit torus F(x, y, z) = (R - sqrt(x^2 + z^2))^2 + y^2 - r^2 is evaluated on a voxel grid and its zero "
        "level set is meshed by marching cubes. Finer grids give smoother meshes; unlike a point cloud, the result has "
        "connectivity.",
    )
    for n in (8, 12, 16) if ctx.quick else (20, 30, 80):
        mesh = implicit_torus(n, device=ctx.device)
        path = save_turntable(mesh, ctx.path(f"implicit_torus_{n}.gif"), n_frames=ctx.n_frames,
                              image_size=ctx.image_size, fps=ctx.fps, elev=30.0, progress=False, color=(0.4, 0.8, 0.5))
        sec.add(path, f"Grid {n}^3: {mesh.verts_packed().shape[0]} vertices, {mesh.faces_packed().shape[0]} faces.",
                f"Torus on a {n}^3 grid")
    return sec


def section_sampling(ctx: TourContext) -> Section:
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.structures import Pointclouds
    from inverse3d.viz.turntable import save_turntable

    sec = Section(
        "Sampling points on a mesh",
        "Faces are chosen with probability proportional to their area, then a point is drawn uniformly inside each "
        "chosen triangle with barycentric coordinates (1 - sqrt(r1), sqrt(r1)(1 - r2), sqrt(r1) r2). Points are "
        "uniform over the surface however uneven the triangles are; they carry the texture's colour.",
    )
    mesh, what = _textured_mesh(ctx)
    for n in (100, 1000, 3000) if ctx.quick else (1000, 10000, 100000):
        points, normals, colors = sample_points_from_meshes(mesh, n, return_normals=True, return_textures=True)
        cloud = Pointclouds(points=points, normals=normals, features=colors)
        path = save_turntable(cloud, ctx.path(f"sampled_{n}.gif"), n_frames=ctx.n_frames, image_size=ctx.image_size,
                              fps=ctx.fps, elev=15.0, progress=False)
        sec.add(path, f"{n} points sampled on {what}.", f"{n} samples")
    return sec


def section_single_view(ctx: TourContext) -> list[Section]:
    from inverse3d.engine.showcase import QUICK, TINY, tour_section

    return tour_section(ctx.out_dir, log=print, device=str(ctx.device), sizes=TINY if ctx.quick else QUICK)


SECTIONS: list[tuple[str, Callable[[TourContext], Section | list[Section]]]] = [
    ("triangle", section_triangle),
    ("cube", section_cube),
    ("textures", section_textures),
    ("camera", section_camera_moves),
    ("rgbd", section_rgbd),
    ("parametric", section_parametric),
    ("implicit", section_implicit),
    ("sampling", section_sampling),
    ("single_view", section_single_view),
]


def build_tour(
    out_dir: Path,
    image_size: int = 192,
    n_frames: int = 24,
    fps: int = 12,
    mesh_path: Path | None = None,
    device: str = "cpu",
    only: list[str] | None = None,
    quick: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Renders the tour into ``out_dir`` and returns the path of ``index.html``.

    Args:
        only: names of the sections to build (default: all of ``SECTIONS``).
        quick: smaller and shorter runs in the sections that train or fit (for tests).
    """
    out_dir = Path(out_dir)
    ctx = TourContext(out_dir, image_size, n_frames, fps, Path(mesh_path) if mesh_path else None, torch.device(device), quick)
    sections: list[Section] = []
    failures = 0
    for name, fn in SECTIONS:
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        log(f"[tour] {name} ...")
        try:
            result = fn(ctx)
            sections.extend(result if isinstance(result, list) else [result])
        except Exception as err:  # one broken section must not hide the others
            failures += 1
            sections.append(Section(f"{name} (failed)", f"This section failed: {type(err).__name__}: {err}"))
            log(traceback.format_exc())
        log(f"[tour] {name} done in {time.perf_counter() - t0:.1f} s")
    page = write_page(
        out_dir / "index.html",
        "inverse3d tour",
        sections,
        intro="Everything on this page was rendered by inverse3d in pure PyTorch, from assets its own code makes "
        "(or the mesh you passed with --mesh).",
    )
    if failures:
        raise RuntimeError(f"{failures} tour section(s) failed; see {page}")
    return page
