"""Mesh rasterisation alone (MeshRasterizer: transform + rasterize_meshes), hard and soft settings.

Cases: an ico sphere of level 5 (20,480 faces) seen by a FoV perspective camera at 2.7 units, 1 face per pixel at
256 and 512 px; the soft-silhouette settings (sigma 1e-4, blur_radius = log(1 / 1e-4 - 1) sigma, 50 faces per
pixel) at 128 px forward and forward + backward; the memory cases of the issue (8 images of 256 px with 50 faces per
pixel; a 1M-face height field at 1024 px).

Comparator for the hard cases: OpenGL's software rasteriser (Mesa llvmpipe through moderngl with a headless EGL
context) drawing the same sphere from the same camera with a Phong fragment shader into a 512 x 512 RGBA8 +
depth framebuffer, and reading the pixels back: a whole hard-Phong frame, where our case is rasterisation only
(bench_shading.py times our full hard Phong frame against the same comparator via ``llvmpipe_comparator``).
The comparator needs the optional ``bench`` extra (``pip install moderngl``) and the Debian packages
``libegl1 libgl1-mesa-dri libegl-mesa0``; without them the comparator reports its error and the case still runs.
Target (issue 3): hard Phong at 512 px within 4x of llvmpipe's time per frame.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from benchmarks.harness import Case

SIGMA = 1e-4
_CAMERA = dict(dist=2.7, elev=20.0, azim=30.0)


def _sphere(level: int):
    from inverse3d.utils import ico_sphere

    return ico_sphere(level)


def _cameras(n: int = 1):
    from inverse3d.renderer import FoVPerspectiveCameras, look_at_view_transform

    R, T = look_at_view_transform(**_CAMERA)
    return FoVPerspectiveCameras(R=R.expand(n, 3, 3), T=T.expand(n, 3))


def _rasterize(level: int, size: int, faces_per_pixel: int = 1, soft: bool = False, backward: bool = False,
               batch: int = 1):
    def make():
        from inverse3d.renderer import MeshRasterizer, RasterizationSettings
        from inverse3d.structures import Meshes

        sphere = _sphere(level)
        verts = sphere.verts_packed()
        faces = sphere.faces_packed()
        blur = math.log(1.0 / 1e-4 - 1.0) * SIGMA if soft else 0.0
        settings = RasterizationSettings(image_size=size, faces_per_pixel=faces_per_pixel, blur_radius=blur)
        rasterizer = MeshRasterizer(cameras=_cameras(batch), raster_settings=settings)

        def run():
            v = verts.clone().requires_grad_(backward)
            mesh = Meshes(verts=[v] * batch, faces=[faces] * batch)
            with torch.set_grad_enabled(backward):
                frags = rasterizer(mesh)
                if backward:
                    prob = torch.sigmoid(-frags.dists / SIGMA) * (frags.pix_to_face >= 0)
                    alpha = 1.0 - torch.prod(1.0 - prob, dim=-1)
                    (alpha.sum() + frags.zbuf.sum() + frags.bary_coords.sum()).backward()
            return frags

        return run

    return make


def _height_field(n_faces: int, size: int):
    """A wavy n x n grid of about n_faces triangles filling the view, rasterised with 1 face per pixel."""

    def make():
        from inverse3d.renderer.mesh.rasterize_meshes import rasterize_face_verts

        n = int(math.sqrt(n_faces / 2))
        u = torch.linspace(-1.0, 1.0, n + 1)
        y, x = torch.meshgrid(u, u, indexing="ij")
        z = 2.0 + 0.1 * torch.sin(8 * x) * torch.cos(6 * y)
        verts = torch.stack([x, y, z], dim=-1).reshape(-1, 3)
        i = torch.arange(n)
        a = (i[:, None] * (n + 1) + i[None, :]).reshape(-1)
        quads = torch.stack([a, a + 1, a + n + 2, a + n + 1], dim=1)
        faces = torch.cat([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
        face_verts = verts[faces]
        f2m = torch.zeros(len(faces), dtype=torch.int64)

        def run():
            return rasterize_face_verts(face_verts, f2m, 1, image_size=size, faces_per_pixel=1,
                                        perspective_correct=True)

        return run

    return make


# --------------------------------------------------------------------------------------------------------------
# OpenGL comparator: Mesa llvmpipe through moderngl (headless EGL).
# --------------------------------------------------------------------------------------------------------------

_VERTEX_SHADER = """
#version 330
uniform mat4 view;        // world -> view (PyTorch3D convention, camera looks along +z)
uniform mat4 projection;  // view -> clip
in vec3 in_pos;
in vec3 in_normal;
in vec3 in_color;
out vec3 v_pos;
out vec3 v_normal;
out vec3 v_color;
void main() {
    v_pos = in_pos;
    v_normal = in_normal;
    v_color = in_color;
    gl_Position = projection * view * vec4(in_pos, 1.0);
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform vec3 light_pos;
uniform vec3 camera_pos;
in vec3 v_pos;
in vec3 v_normal;
in vec3 v_color;
out vec4 f_color;
void main() {
    vec3 n = normalize(v_normal);
    vec3 l = normalize(light_pos - v_pos);
    vec3 v = normalize(camera_pos - v_pos);
    float diffuse = max(dot(n, l), 0.0);
    vec3 r = reflect(-l, n);
    float specular = diffuse > 0.0 ? pow(max(dot(r, v), 0.0), 64.0) : 0.0;
    vec3 rgb = v_color * (0.5 + 0.3 * diffuse) + 0.2 * specular;
    f_color = vec4(rgb, 1.0);
}
"""


def llvmpipe_comparator(level: int, size: int) -> Callable[[], Callable[[], object]]:
    """A ``make`` for the harness: hard Phong of ico_sphere(level) at size x size px by OpenGL on llvmpipe.

    The returned function renders one frame and reads the RGBA pixels back into a numpy array. Building it
    raises (and the harness reports) an error when moderngl or an EGL driver is missing.
    """

    def make():
        import numpy as np

        try:
            import moderngl
        except ImportError as err:  # the optional extra is missing
            raise RuntimeError("needs moderngl (pip install moderngl) and Mesa EGL (libegl1 libgl1-mesa-dri)") from err
        from inverse3d.renderer import look_at_view_transform

        ctx = moderngl.create_context(standalone=True, backend="egl")
        sphere = _sphere(level)
        verts = sphere.verts_packed()
        normals = sphere.verts_normals_packed()
        colors = (verts + 1) / 2
        data = torch.cat([verts, normals, colors], dim=1)[sphere.faces_packed().reshape(-1)]
        vbo = ctx.buffer(data.numpy().astype("f4").tobytes())
        prog = ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        vao = ctx.vertex_array(prog, [(vbo, "3f 3f 3f", "in_pos", "in_normal", "in_color")])

        R, T = look_at_view_transform(**_CAMERA)
        view = torch.eye(4)
        view[:3, :3] = R[0].T  # column-vector form of X_view = X_world @ R + T
        view[:3, 3] = T[0]
        znear, zfar, s = 1.0, 100.0, 1.0 / math.tan(math.radians(30.0))
        proj = torch.zeros(4, 4)
        proj[0, 0] = -s  # +X is left in PyTorch3D's NDC, right in OpenGL's window
        proj[1, 1] = s
        proj[2, 2] = (zfar + znear) / (zfar - znear)
        proj[2, 3] = -2.0 * zfar * znear / (zfar - znear)
        proj[3, 2] = 1.0
        prog["view"].write(view.T.contiguous().numpy().astype("f4").tobytes())  # GLSL matrices are column-major
        prog["projection"].write(proj.T.contiguous().numpy().astype("f4").tobytes())
        prog["light_pos"].value = (2.0, 2.0, -2.0)
        camera_pos = -(R[0] @ T[0])
        prog["camera_pos"].value = tuple(float(c) for c in camera_pos)

        fbo = ctx.framebuffer(
            color_attachments=[ctx.renderbuffer((size, size), 4)], depth_attachment=ctx.depth_renderbuffer((size, size))
        )

        def run():
            fbo.use()
            ctx.enable(moderngl.DEPTH_TEST)
            ctx.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            vao.render(moderngl.TRIANGLES)
            return np.frombuffer(fbo.read(components=4), dtype=np.uint8).reshape(size, size, 4)

        run.ctx = ctx  # keep the context alive as long as the closure
        return run

    return make


def cases() -> list[Case]:
    return [
        Case("rasterize ico5 (20k faces) 256px K=1", _rasterize(5, 256), comparator=(
            "llvmpipe hard phong", llvmpipe_comparator(5, 256))),
        Case("rasterize ico5 (20k faces) 512px K=1", _rasterize(5, 512), comparator=(
            "llvmpipe hard phong", llvmpipe_comparator(5, 512))),
        Case("rasterize ico5 128px K=50 soft fwd", _rasterize(5, 128, 50, soft=True), repeats=3),
        Case("rasterize ico5 128px K=50 soft fwd+bwd", _rasterize(5, 128, 50, soft=True, backward=True), repeats=3),
        Case("rasterize 8 x ico5 256px K=50 soft fwd", _rasterize(5, 256, 50, soft=True, batch=8), repeats=1),
        Case("rasterize 1M-face grid 1024px K=1", _height_field(1_000_000, 1024), repeats=1),
        Case("rasterize ico2 32px K=1 (tiny)", _rasterize(2, 32), tiny=True),
    ]
