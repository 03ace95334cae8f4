"""PyTorch3D 0.7.9's tutorials (docs/tutorials/*.ipynb) run after renaming ``pytorch3d`` to ``inverse3d`` in imports.

Each test holds a tutorial's code cells with their API calls unchanged (names, argument names, shapes) and only these
changes: the imports say ``inverse3d``; data files are replaced by the cow (../shared/data/cow, skipped cleanly without
it), by built-in meshes written to the same file formats, or by synthetic tensors of the same layout; sizes and
iteration counts are tiny; plotting (matplotlib, ``image_grid``; plotly ``vis`` cells where noted), ``tqdm`` and ``!pip`` /
``!wget`` cells are left out. Comments ``# tutorial:`` mark the remaining changes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

device = torch.device("cpu")


# --- stand-ins for the tutorials' data files ------------------------------------------------------------------------

def _textured_sphere_obj(folder: Path) -> Path:
    """An ico sphere with a UV-mapped texture, written as OBJ + MTL + PNG (the layout of the tutorials' cow_mesh)."""
    from inverse3d.io import save_obj
    from inverse3d.utils import ico_sphere

    sphere = ico_sphere(2)
    verts, faces = sphere.verts_packed(), sphere.faces_packed()
    u = 0.5 + torch.atan2(verts[:, 0], verts[:, 2]) / (2 * math.pi)
    v = 0.5 + torch.asin(verts[:, 1].clamp(-1, 1)) / math.pi
    ramp = torch.linspace(0.1, 0.9, 16)
    texture = torch.stack(torch.broadcast_tensors(ramp[:, None], ramp[None, :], torch.full((16, 16), 0.3)), -1)
    path = folder / "cow_mesh" / "cow.obj"
    path.parent.mkdir(parents=True)
    save_obj(path, verts, faces, verts_uvs=torch.stack((u, v), 1), faces_uvs=faces, texture_map=texture)
    return path


@pytest.fixture(params=["sphere", "cow"])
def textured_obj(request, tmp_path) -> Path:
    """The tutorials' cow_mesh/cow.obj: the cow itself, or a textured sphere in the same formats."""
    if request.param == "cow":
        return request.getfixturevalue("cow_obj")
    return _textured_sphere_obj(tmp_path)


def _foreground(images: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool: pixels a mesh covers in RGBA renders."""
    return images[..., 3] > 0


# --- render_textured_meshes.ipynb -----------------------------------------------------------------------------------

def test_render_textured_meshes(textured_obj):
    import torch

    # Util function for loading meshes
    from inverse3d.io import load_objs_as_meshes, load_obj

    # Data structures and functions for rendering
    from inverse3d.structures import Meshes
    from inverse3d.renderer import (
        look_at_view_transform,
        FoVPerspectiveCameras,
        PointLights,
        DirectionalLights,
        Materials,
        RasterizationSettings,
        MeshRenderer,
        MeshRasterizer,
        SoftPhongShader,
        TexturesUV,
        TexturesVertex
    )

    obj_filename = str(textured_obj)  # tutorial: os.path.join(DATA_DIR, "cow_mesh/cow.obj")
    mesh = load_objs_as_meshes([obj_filename], device=device)
    texture_image = mesh.textures.maps_padded()
    assert isinstance(mesh.textures, TexturesUV) and texture_image.dim() == 4 and texture_image.shape[-1] == 3

    R, T = look_at_view_transform(2.7, 0, 180)
    cameras = FoVPerspectiveCameras(device=device, R=R, T=T)
    raster_settings = RasterizationSettings(
        image_size=48,  # tutorial: 512
        blur_radius=0.0,
        faces_per_pixel=1,
    )
    lights = PointLights(device=device, location=[[0.0, 0.0, -3.0]])
    renderer = MeshRenderer(
        rasterizer=MeshRasterizer(
            cameras=cameras,
            raster_settings=raster_settings
        ),
        shader=SoftPhongShader(
            device=device,
            cameras=cameras,
            lights=lights
        )
    )
    images = renderer(mesh)
    assert images.shape == (1, 48, 48, 4) and torch.isfinite(images).all()
    front = _foreground(images)[0]
    assert 0.05 < front.float().mean() < 0.95
    lit = images[0, ..., :3][front].mean()
    assert images[0, ..., :3][front].std() > 0.01  # textured and shaded, not flat

    # Now move the light so it is on the +Z axis which will be behind the cow.
    lights.location = torch.tensor([0.0, 0.0, +1.0], device=device)[None]
    images = renderer(mesh, lights=lights)
    assert images[0, ..., :3][_foreground(images)[0]].mean() < lit  # the side we see is now in shadow

    R, T = look_at_view_transform(dist=2.7, elev=10, azim=-150)
    cameras = FoVPerspectiveCameras(device=device, R=R, T=T)
    lights.location = torch.tensor([[2.0, 2.0, -2.0]], device=device)
    materials = Materials(
        device=device,
        specular_color=[[0.0, 1.0, 0.0]],
        shininess=10.0
    )
    images = renderer(mesh, lights=lights, materials=materials, cameras=cameras)
    assert images.shape == (1, 48, 48, 4) and _foreground(images).any()

    batch_size = 4  # tutorial: 20
    meshes = mesh.extend(batch_size)
    elev = torch.linspace(0, 180, batch_size)
    azim = torch.linspace(-180, 180, batch_size)
    R, T = look_at_view_transform(dist=2.7, elev=elev, azim=azim)
    cameras = FoVPerspectiveCameras(device=device, R=R, T=T)
    lights.location = torch.tensor([[0.0, 0.0, -3.0]], device=device)
    images = renderer(meshes, cameras=cameras, lights=lights)
    assert images.shape == (batch_size, 48, 48, 4) and torch.isfinite(images).all()
    assert _foreground(images).flatten(1).any(1).all()
    assert not torch.allclose(images[0], images[1])  # different viewpoints

    # the plotly part: the meshes it builds (the plotting calls are in test_render_textured_meshes_plotting)
    verts, faces_idx, _ = load_obj(obj_filename)
    faces = faces_idx.verts_idx
    verts_rgb = torch.ones_like(verts)[None]  # (1, V, 3)
    textures = TexturesVertex(verts_features=verts_rgb.to(device))
    mesh = Meshes(
        verts=[verts.to(device)],
        faces=[faces.to(device)],
        textures=textures
    )
    mesh_batch = Meshes(
        verts=[verts.to(device), (verts + 2).to(device)],
        faces=[faces.to(device), faces.to(device)]
    )
    mesh_4 = mesh_batch.extend(2)
    assert len(mesh_4) == 4 and len(mesh_batch[1]) == 1
    torch.testing.assert_close(mesh_4.verts_list()[3], verts + 2)
    assert mesh.textures.verts_features_padded().shape == (1, verts.shape[0], 3)


def test_render_textured_meshes_plotting(textured_obj):
    """The tutorial's plotting cells (plotly is the optional ``vis`` extra: those cells are skipped without it)."""
    import matplotlib
    import matplotlib.pyplot as plt

    from inverse3d.io import load_obj, load_objs_as_meshes
    from inverse3d.renderer import TexturesVertex
    from inverse3d.structures import Meshes
    from inverse3d.vis.plotly_vis import AxisArgs, plot_batch_individually, plot_scene
    from inverse3d.vis.texture_vis import texturesuv_image_matplotlib

    matplotlib.use("Agg")
    obj_filename = str(textured_obj)
    mesh = load_objs_as_meshes([obj_filename], device=device)
    plt.figure(figsize=(7, 7))
    texturesuv_image_matplotlib(mesh.textures, subsample=None)
    plt.axis("off")
    assert len(plt.gca().images) == 1 and len(plt.gca().patches) == mesh.textures.verts_uvs_list()[0].shape[0]
    plt.close("all")

    pytest.importorskip("plotly")
    verts, faces_idx, _ = load_obj(obj_filename)
    faces = faces_idx.verts_idx
    verts_rgb = torch.ones_like(verts)[None]  # (1, V, 3)
    textures = TexturesVertex(verts_features=verts_rgb.to(device))
    mesh = Meshes(verts=[verts.to(device)], faces=[faces.to(device)], textures=textures)
    fig = plot_scene({
        "subplot1": {
            "cow_mesh": mesh
        }
    })
    assert [t.name for t in fig.data] == ["cow_mesh"]
    mesh_batch = Meshes(
        verts=[verts.to(device), (verts + 2).to(device)],
        faces=[faces.to(device), faces.to(device)]
    )
    fig = plot_scene({
        "subplot1": {
            "cow_mesh1": mesh_batch[0],
            "cow_mesh2": mesh_batch[1]
        }
    })
    assert len(fig.data) == 2
    fig = plot_batch_individually(mesh_batch)
    assert len(fig.data) == 2 and fig.data[1].scene == "scene2"
    fig = plot_scene({
        "cow_plot1": {
            "cows": mesh_batch
        }
    })
    assert len(fig.data) == 1
    mesh_4 = mesh_batch.extend(2)
    fig = plot_batch_individually([mesh_4, mesh], ncols=2, extend_struct=False,
                                  subplot_titles=["cow1", "cow2", "cow3", "cow4"],
                                  axis_args=AxisArgs(showgrid=True))
    assert len(fig.data) == 5 and fig.layout.scene.xaxis.showgrid


# --- render_colored_points.ipynb ------------------------------------------------------------------------------------

def _pointcloud_npz(folder: Path) -> Path:
    """PittsburghBridge/pointcloud.npz stand-in: 'verts' (P, 3) on a sphere, 'rgb' (P, 3) colours."""
    gen = torch.Generator().manual_seed(0)
    verts = torch.randn(3000, 3, generator=gen)
    verts = verts / verts.norm(dim=1, keepdim=True) * 0.8
    rgb = (verts / 0.8 + 1) / 2
    path = folder / "PittsburghBridge" / "pointcloud.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, verts=verts.numpy(), rgb=rgb.numpy())
    return path


def test_render_colored_points_imports_pulsar_and_says_why():
    """The tutorial's import block names PulsarPointsRenderer, which is deliberately not provided (CUDA-only)."""
    with pytest.raises(ImportError, match="CUDA-only"):
        from inverse3d.renderer import (  # noqa: F401
            look_at_view_transform,
            FoVOrthographicCameras,
            PointsRasterizationSettings,
            PointsRenderer,
            PulsarPointsRenderer,
            PointsRasterizer,
            AlphaCompositor,
            NormWeightedCompositor
        )


def test_render_colored_points(tmp_path):
    import torch

    from inverse3d.structures import Pointclouds
    from inverse3d.renderer import (
        look_at_view_transform,
        FoVOrthographicCameras,
        PointsRasterizationSettings,
        PointsRenderer,
        PointsRasterizer,
        AlphaCompositor,
        NormWeightedCompositor
    )  # tutorial: PulsarPointsRenderer left out (see the test above)

    obj_filename = os.path.join(_pointcloud_npz(tmp_path).parent, "pointcloud.npz")
    pointcloud = np.load(obj_filename)
    verts = torch.Tensor(pointcloud['verts']).to(device)
    rgb = torch.Tensor(pointcloud['rgb']).to(device)
    point_cloud = Pointclouds(points=[verts], features=[rgb])

    R, T = look_at_view_transform(20, 10, 0)
    cameras = FoVOrthographicCameras(device=device, R=R, T=T, znear=0.01)
    raster_settings = PointsRasterizationSettings(
        image_size=48,  # tutorial: 512
        radius = 0.03,  # tutorial: 0.003 (for 512 pixels)
        points_per_pixel = 10
    )
    rasterizer = PointsRasterizer(cameras=cameras, raster_settings=raster_settings)
    renderer = PointsRenderer(
        rasterizer=rasterizer,
        compositor=AlphaCompositor()
    )
    images = renderer(point_cloud)
    assert images.shape == (1, 48, 48, 3) and torch.isfinite(images).all()
    hit = rasterizer(point_cloud).idx[0, ..., 0] >= 0  # (H, W) pixels some point covers
    assert 0.2 < hit.float().mean() < 0.9
    assert images[0][hit].std(0).min() > 0.05  # the colours of the points, varying over the sphere
    assert (images[0][~hit] == 0).all()  # no background colour: zeros

    renderer = PointsRenderer(
        rasterizer=rasterizer,
        compositor=AlphaCompositor(background_color=(0, 0, 1))
    )
    images = renderer(point_cloud)
    torch.testing.assert_close(images[0][~hit], torch.tensor([0.0, 0.0, 1.0]).expand(int((~hit).sum()), 3))

    R, T = look_at_view_transform(20, 10, 0)
    cameras = FoVOrthographicCameras(device=device, R=R, T=T, znear=0.01)
    renderer = PointsRenderer(
        rasterizer=PointsRasterizer(cameras=cameras, raster_settings=raster_settings),
        compositor=NormWeightedCompositor()
    )
    images = renderer(point_cloud)
    assert images.shape == (1, 48, 48, 3) and images[0][hit].std(0).min() > 0.05
    # a weighted mean of the points' colours stays within their range
    assert images.min() >= 0 and images.max() <= 1 + 1e-5

    renderer = PointsRenderer(
        rasterizer=PointsRasterizer(cameras=cameras, raster_settings=raster_settings),
        compositor=NormWeightedCompositor(background_color=(1,0,0))
    )
    images = renderer(point_cloud)
    torch.testing.assert_close(images[0][~hit], torch.tensor([1.0, 0.0, 0.0]).expand(int((~hit).sum()), 3))

    point_cloud_batch = Pointclouds(points=[verts, verts + 2], features=[rgb, torch.zeros_like(rgb)])
    assert len(point_cloud_batch) == 2 and len(point_cloud_batch[1]) == 1
    torch.testing.assert_close(point_cloud_batch[1].features_packed(), torch.zeros_like(rgb))


# --- camera_position_optimization_with_differentiable_rendering.ipynb ----------------------------------------------

def _torus_obj(folder: Path) -> Path:
    """./data/teapot.obj stand-in: a torus (not rotationally symmetric about the viewing axes), as a plain OBJ."""
    from inverse3d.io import save_obj
    from inverse3d.utils import torus

    mesh = torus(0.3, 0.9, 12, 16)
    path = folder / "teapot.obj"
    save_obj(path, mesh.verts_packed(), mesh.faces_packed())
    return path


def test_camera_position_optimization(tmp_path):
    import torch
    import torch.nn as nn

    # io utils
    from inverse3d.io import load_obj

    # datastructures
    from inverse3d.structures import Meshes

    # 3D transformations functions
    from inverse3d.transforms import Rotate, Translate  # noqa: F401

    # rendering components
    from inverse3d.renderer import (
        FoVPerspectiveCameras, look_at_view_transform, look_at_rotation,
        RasterizationSettings, MeshRenderer, MeshRasterizer, BlendParams,
        SoftSilhouetteShader, HardPhongShader, PointLights, TexturesVertex,
    )

    verts, faces_idx, _ = load_obj(str(_torus_obj(tmp_path)))  # tutorial: "./data/teapot.obj"
    faces = faces_idx.verts_idx
    verts_rgb = torch.ones_like(verts)[None]  # (1, V, 3)
    textures = TexturesVertex(verts_features=verts_rgb.to(device))
    teapot_mesh = Meshes(
        verts=[verts.to(device)],
        faces=[faces.to(device)],
        textures=textures
    )

    cameras = FoVPerspectiveCameras(device=device)
    blend_params = BlendParams(sigma=1e-4, gamma=1e-4)
    raster_settings = RasterizationSettings(
        image_size=48,  # tutorial: 256
        blur_radius=np.log(1. / 1e-4 - 1.) * blend_params.sigma,
        faces_per_pixel=10,  # tutorial: 100
    )
    silhouette_renderer = MeshRenderer(
        rasterizer=MeshRasterizer(
            cameras=cameras,
            raster_settings=raster_settings
        ),
        shader=SoftSilhouetteShader(blend_params=blend_params)
    )
    raster_settings = RasterizationSettings(
        image_size=48,  # tutorial: 256
        blur_radius=0.0,
        faces_per_pixel=1,
    )
    lights = PointLights(device=device, location=((2.0, 2.0, -2.0),))
    phong_renderer = MeshRenderer(
        rasterizer=MeshRasterizer(
            cameras=cameras,
            raster_settings=raster_settings
        ),
        shader=HardPhongShader(device=device, cameras=cameras, lights=lights)
    )

    distance = 3   # distance from camera to the object
    elevation = 50.0   # angle of elevation in degrees
    azimuth = 0.0  # No rotation so the camera is positioned on the +Z axis.
    R, T = look_at_view_transform(distance, elevation, azimuth, device=device)
    silhouette = silhouette_renderer(meshes_world=teapot_mesh, R=R, T=T)
    image_ref = phong_renderer(meshes_world=teapot_mesh, R=R, T=T)
    silhouette = silhouette.cpu().numpy()
    image_ref = image_ref.cpu().numpy()
    assert silhouette.shape == image_ref.shape == (1, 48, 48, 4)
    mask = image_ref[..., :3].max(-1) != 1  # what the Model below uses as the reference silhouette
    assert 0.05 < mask.mean() < 0.9
    assert ((silhouette[..., 3] > 0.5) == mask).mean() > 0.95

    class Model(nn.Module):
        def __init__(self, meshes, renderer, image_ref):
            super().__init__()
            self.meshes = meshes
            self.device = meshes.device
            self.renderer = renderer
            image_ref = torch.from_numpy((image_ref[..., :3].max(-1) != 1).astype(np.float32))
            self.register_buffer('image_ref', image_ref)
            self.camera_position = nn.Parameter(
                torch.from_numpy(np.array([3.0,  6.9, +2.5], dtype=np.float32)).to(meshes.device))

        def forward(self):
            R = look_at_rotation(self.camera_position[None, :], device=self.device)  # (1, 3, 3)
            T = -torch.bmm(R.transpose(1, 2), self.camera_position[None, :, None])[:, :, 0]   # (1, 3)
            image = self.renderer(meshes_world=self.meshes.clone(), R=R, T=T)
            loss = torch.sum((image[..., 3] - self.image_ref) ** 2)
            return loss, image

    model = Model(meshes=teapot_mesh, renderer=silhouette_renderer, image_ref=image_ref).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    _, image_init = model()
    assert image_init.shape == (1, 48, 48, 4)

    losses = []
    for i in range(5):  # tutorial: 200
        optimizer.zero_grad()
        loss, _ = model()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        assert torch.isfinite(model.camera_position.grad).all() and model.camera_position.grad.abs().sum() > 0
        if loss.item() < 200:
            break
        if i % 10 == 0:
            R = look_at_rotation(model.camera_position[None, :], device=model.device)
            T = -torch.bmm(R.transpose(1, 2), model.camera_position[None, :, None])[:, :, 0]   # (1, 3)
            image = phong_renderer(meshes_world=model.meshes.clone(), R=R, T=T)
            image = image[0, ..., :3].detach().squeeze().cpu().numpy()
            assert image.shape == (48, 48, 3)
    assert losses[-1] < losses[0]


# --- deform_source_mesh_to_target_mesh.ipynb ------------------------------------------------------------------------

@pytest.fixture(params=["torus", "cow"])
def target_obj(request, tmp_path) -> Path:
    """dolphin.obj stand-in: the cow, or a torus."""
    if request.param == "cow":
        return request.getfixturevalue("cow_obj")
    return _torus_obj(tmp_path)


def test_deform_source_mesh_to_target_mesh(target_obj, tmp_path):
    import torch
    from inverse3d.io import load_obj, save_obj
    from inverse3d.structures import Meshes
    from inverse3d.utils import ico_sphere
    from inverse3d.ops import sample_points_from_meshes
    from inverse3d.loss import (
        chamfer_distance,
        mesh_edge_loss,
        mesh_laplacian_smoothing,
        mesh_normal_consistency,
    )

    trg_obj = str(target_obj)  # tutorial: 'dolphin.obj'
    verts, faces, aux = load_obj(trg_obj)
    faces_idx = faces.verts_idx.to(device)
    verts = verts.to(device)
    center = verts.mean(0)
    verts = verts - center
    scale = max(verts.abs().max(0)[0])
    verts = verts / scale
    trg_mesh = Meshes(verts=[verts], faces=[faces_idx])

    src_mesh = ico_sphere(2, device)  # tutorial: level 4
    deform_verts = torch.full(src_mesh.verts_packed().shape, 0.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([deform_verts], lr=1.0, momentum=0.9)

    Niter = 5  # tutorial: 2000
    w_chamfer = 1.0
    w_edge = 1.0
    w_normal = 0.01
    w_laplacian = 0.1
    chamfer_losses = []
    laplacian_losses = []
    edge_losses = []
    normal_losses = []
    for i in range(Niter):
        optimizer.zero_grad()
        new_src_mesh = src_mesh.offset_verts(deform_verts)
        sample_trg = sample_points_from_meshes(trg_mesh, 2000)  # tutorial: 5000
        sample_src = sample_points_from_meshes(new_src_mesh, 2000)
        loss_chamfer, _ = chamfer_distance(sample_trg, sample_src)
        loss_edge = mesh_edge_loss(new_src_mesh)
        loss_normal = mesh_normal_consistency(new_src_mesh)
        loss_laplacian = mesh_laplacian_smoothing(new_src_mesh, method="uniform")
        loss = loss_chamfer * w_chamfer + loss_edge * w_edge + loss_normal * w_normal + loss_laplacian * w_laplacian
        chamfer_losses.append(float(loss_chamfer.detach().cpu()))
        edge_losses.append(float(loss_edge.detach().cpu()))
        normal_losses.append(float(loss_normal.detach().cpu()))
        laplacian_losses.append(float(loss_laplacian.detach().cpu()))
        loss.backward()
        optimizer.step()

    assert sample_trg.shape == sample_src.shape == (1, 2000, 3)
    assert all(np.isfinite(chamfer_losses + edge_losses + normal_losses + laplacian_losses))
    assert chamfer_losses[-1] < 0.9 * chamfer_losses[0]

    final_verts, final_faces = new_src_mesh.get_mesh_verts_faces(0)
    final_verts = final_verts * scale + center
    final_obj = str(tmp_path / 'final_model.obj')  # tutorial: 'final_model.obj'
    save_obj(final_obj, final_verts, final_faces)
    verts_back, faces_back, _ = load_obj(final_obj)
    torch.testing.assert_close(verts_back, final_verts.detach(), atol=1e-5, rtol=0)
    assert torch.equal(faces_back.verts_idx, final_faces)


# --- fit_textured_mesh.ipynb ----------------------------------------------------------------------------------------

def test_fit_textured_mesh(textured_obj, tmp_path):
    import torch
    from inverse3d.utils import ico_sphere
    from inverse3d.io import load_objs_as_meshes, save_obj
    from inverse3d.loss import (
        chamfer_distance,  # noqa: F401
        mesh_edge_loss,
        mesh_laplacian_smoothing,
        mesh_normal_consistency,
    )
    from inverse3d.structures import Meshes  # noqa: F401
    from inverse3d.renderer import (
        look_at_view_transform,
        FoVPerspectiveCameras,
        PointLights,
        DirectionalLights,
        Materials,
        RasterizationSettings,
        MeshRenderer,
        MeshRasterizer,
        SoftPhongShader,
        SoftSilhouetteShader,
        SoftPhongShader,
        TexturesVertex
    )

    obj_filename = str(textured_obj)  # tutorial: os.path.join(DATA_DIR, "cow_mesh/cow.obj")
    mesh = load_objs_as_meshes([obj_filename], device=device)
    verts = mesh.verts_packed()
    N = verts.shape[0]
    center = verts.mean(0)
    scale = max((verts - center).abs().max(0)[0])
    mesh.offset_verts_(-center)
    mesh.scale_verts_((1.0 / float(scale)));
    assert mesh.verts_packed().abs().max() <= 2.0

    num_views = 4  # tutorial: 20
    elev = torch.linspace(0, 360, num_views)
    azim = torch.linspace(-180, 180, num_views)
    lights = PointLights(device=device, location=[[0.0, 0.0, -3.0]])
    R, T = look_at_view_transform(dist=2.7, elev=elev, azim=azim)
    cameras = FoVPerspectiveCameras(device=device, R=R, T=T)
    camera = FoVPerspectiveCameras(device=device, R=R[None, 1, ...],
                                      T=T[None, 1, ...])
    raster_settings = RasterizationSettings(
        image_size=32,  # tutorial: 128
        blur_radius=0.0,
        faces_per_pixel=1,
    )
    renderer = MeshRenderer(
        rasterizer=MeshRasterizer(
            cameras=camera,
            raster_settings=raster_settings
        ),
        shader=SoftPhongShader(
            device=device,
            cameras=camera,
            lights=lights
        )
    )
    meshes = mesh.extend(num_views)
    target_images = renderer(meshes, cameras=cameras, lights=lights)
    target_rgb = [target_images[i, ..., :3] for i in range(num_views)]
    target_cameras = [FoVPerspectiveCameras(device=device, R=R[None, i, ...],
                                               T=T[None, i, ...]) for i in range(num_views)]
    assert target_images.shape == (num_views, 32, 32, 4) and _foreground(target_images).flatten(1).any(1).all()

    sigma = 1e-4
    raster_settings_silhouette = RasterizationSettings(
        image_size=32,  # tutorial: 128
        blur_radius=np.log(1. / 1e-4 - 1.)*sigma,
        faces_per_pixel=8,  # tutorial: 50
    )
    renderer_silhouette = MeshRenderer(
        rasterizer=MeshRasterizer(
            cameras=camera,
            raster_settings=raster_settings_silhouette
        ),
        shader=SoftSilhouetteShader()
    )
    silhouette_images = renderer_silhouette(meshes, cameras=cameras, lights=lights)
    target_silhouette = [silhouette_images[i, ..., 3] for i in range(num_views)]
    assert ((silhouette_images[..., 3] > 0.5) == _foreground(target_images)).float().mean() > 0.95

    def visualize_prediction(predicted_mesh, renderer=renderer_silhouette,
                             target_image=target_rgb[1], title='',
                             silhouette=False):
        inds = 3 if silhouette else range(3)
        with torch.no_grad():
            predicted_images = renderer(predicted_mesh)
        return predicted_images[0, ..., inds].cpu().detach().numpy()  # tutorial: plotted with matplotlib

    src_mesh = ico_sphere(2, device)  # tutorial: level 4

    def update_mesh_shape_prior_losses(mesh, loss):
        loss["edge"] = mesh_edge_loss(mesh)
        loss["normal"] = mesh_normal_consistency(mesh)
        loss["laplacian"] = mesh_laplacian_smoothing(mesh, method="uniform")

    # first stage: silhouettes only
    num_views_per_iteration = 2
    Niter = 4  # tutorial: 2000
    losses = {"silhouette": {"weight": 1.0, "values": []},
              "edge": {"weight": 1.0, "values": []},
              "normal": {"weight": 0.01, "values": []},
              "laplacian": {"weight": 1.0, "values": []},
             }
    verts_shape = src_mesh.verts_packed().shape
    deform_verts = torch.full(verts_shape, 0.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([deform_verts], lr=1.0, momentum=0.9)
    rng = np.random.RandomState(0)  # tutorial: np.random
    for i in range(Niter):
        optimizer.zero_grad()
        new_src_mesh = src_mesh.offset_verts(deform_verts)
        loss = {k: torch.tensor(0.0, device=device) for k in losses}
        update_mesh_shape_prior_losses(new_src_mesh, loss)
        for j in rng.permutation(num_views).tolist()[:num_views_per_iteration]:
            images_predicted = renderer_silhouette(new_src_mesh, cameras=target_cameras[j], lights=lights)
            predicted_silhouette = images_predicted[..., 3]
            loss_silhouette = ((predicted_silhouette - target_silhouette[j]) ** 2).mean()
            loss["silhouette"] += loss_silhouette / num_views_per_iteration
        sum_loss = torch.tensor(0.0, device=device)
        for k, l in loss.items():
            sum_loss += l * losses[k]["weight"]
            losses[k]["values"].append(float(l.detach().cpu()))
        sum_loss.backward()
        optimizer.step()
    assert deform_verts.grad.abs().sum() > 0
    assert all(np.isfinite(v["values"]).all() for v in losses.values())
    shown = visualize_prediction(new_src_mesh, silhouette=True, target_image=target_silhouette[1])
    assert shown.shape == (32, 32)

    # second stage: colours and silhouettes
    raster_settings_soft = RasterizationSettings(
        image_size=32,  # tutorial: 128
        blur_radius=np.log(1. / 1e-4 - 1.)*sigma,
        faces_per_pixel=8,  # tutorial: 50
        perspective_correct=False,
    )
    renderer_textured = MeshRenderer(
        rasterizer=MeshRasterizer(
            cameras=camera,
            raster_settings=raster_settings_soft
        ),
        shader=SoftPhongShader(device=device,
            cameras=camera,
            lights=lights)
    )
    losses = {"rgb": {"weight": 1.0, "values": []},
              "silhouette": {"weight": 1.0, "values": []},
              "edge": {"weight": 1.0, "values": []},
              "normal": {"weight": 0.01, "values": []},
              "laplacian": {"weight": 1.0, "values": []},
             }
    verts_shape = src_mesh.verts_packed().shape
    deform_verts = torch.full(verts_shape, 0.0, device=device, requires_grad=True)
    sphere_verts_rgb = torch.full([1, verts_shape[0], 3], 0.5, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([deform_verts, sphere_verts_rgb], lr=1.0, momentum=0.9)
    for i in range(Niter):
        optimizer.zero_grad()
        new_src_mesh = src_mesh.offset_verts(deform_verts)
        new_src_mesh.textures = TexturesVertex(verts_features=sphere_verts_rgb)
        loss = {k: torch.tensor(0.0, device=device) for k in losses}
        update_mesh_shape_prior_losses(new_src_mesh, loss)
        for j in list(range(num_views))[:num_views_per_iteration]:  # tutorial: a random permutation
            images_predicted = renderer_textured(new_src_mesh, cameras=target_cameras[j], lights=lights)
            predicted_silhouette = images_predicted[..., 3]
            loss_silhouette = ((predicted_silhouette - target_silhouette[j]) ** 2).mean()
            loss["silhouette"] += loss_silhouette / num_views_per_iteration
            predicted_rgb = images_predicted[..., :3]
            loss_rgb = ((predicted_rgb - target_rgb[j]) ** 2).mean()
            loss["rgb"] += loss_rgb / num_views_per_iteration
        sum_loss = torch.tensor(0.0, device=device)
        for k, l in loss.items():
            sum_loss += l * losses[k]["weight"]
            losses[k]["values"].append(float(l.detach().cpu()))
        sum_loss.backward()
        optimizer.step()
    assert sphere_verts_rgb.grad.abs().sum() > 0  # colours learn through the Phong shader
    assert losses["rgb"]["values"][-1] < losses["rgb"]["values"][0]
    shown = visualize_prediction(new_src_mesh, renderer=renderer_textured, silhouette=False)
    assert shown.shape == (32, 32, 3) and np.isfinite(shown).all()

    final_verts, final_faces = new_src_mesh.get_mesh_verts_faces(0)
    final_verts = final_verts * scale + center
    final_obj = os.path.join(str(tmp_path), 'final_model.obj')  # tutorial: './'
    save_obj(final_obj, final_verts, final_faces)
    assert os.path.getsize(final_obj) > 0


# --- dataloaders_ShapeNetCore_R2N2.ipynb ----------------------------------------------------------------------------

def test_dataloaders_shapenet(tmp_path):
    """The tutorial's ShapeNetCore cells on a two-model stand-in of ShapeNetCore v2 (R2N2 cells: tests/datasets)."""
    from inverse3d.datasets import (  # noqa: F401
        R2N2,
        ShapeNetCore,
        collate_batched_meshes,
        render_cubified_voxels,
    )
    from inverse3d.io import save_obj
    from inverse3d.renderer import (
        OpenGLPerspectiveCameras,
        PointLights,
        RasterizationSettings,
        look_at_view_transform,
    )
    from torch.utils.data import DataLoader
    from inverse3d.utils import ico_sphere

    SHAPENET_PATH = tmp_path / "ShapeNetCore.v2"  # tutorial: a local ShapeNetCore v2 copy
    for synset, model in (("03001627", "chair0"), ("04379243", "table0")):
        obj = SHAPENET_PATH / synset / model / "models" / "model_normalized.obj"
        obj.parent.mkdir(parents=True)
        sphere = ico_sphere(1)
        save_obj(obj, sphere.verts_packed() * 0.3, sphere.faces_packed())
    with pytest.warns(UserWarning, match="official mapping"):
        shapenet_dataset = ShapeNetCore(SHAPENET_PATH, version=2)
    shapenet_model = shapenet_dataset[1]
    assert shapenet_model["synset_id"] == "04379243" and shapenet_model["label"] == "table"
    assert shapenet_model["verts"].shape == (42, 3)

    shapenet_loader = DataLoader(shapenet_dataset, batch_size=2, collate_fn=collate_batched_meshes)
    it = iter(shapenet_loader)
    shapenet_batch = next(it)
    assert len(shapenet_batch["mesh"]) == 2 and shapenet_batch["label"] == ["chair", "table"]

    R, T = look_at_view_transform(1.0, 1.0, 90)
    cameras = OpenGLPerspectiveCameras(R=R, T=T, device=device)
    raster_settings = RasterizationSettings(image_size=32)  # tutorial: 512
    lights = PointLights(location=torch.tensor([0.0, 1.0, -2.0], device=device)[None], device=device)
    images_by_model_ids = shapenet_dataset.render(
        model_ids=["chair0", "table0"],  # tutorial: ShapeNet model ids
        device=device,
        cameras=cameras,
        raster_settings=raster_settings,
        lights=lights,
    )
    assert images_by_model_ids.shape == (2, 32, 32, 4) and (images_by_model_ids[..., 3] > 0).any()
    images_by_categories = shapenet_dataset.render(
        categories=["chair"],  # tutorial: ["distance", "faucet", ...]
        sample_nums=[1],
        device=device,
        cameras=cameras,
        raster_settings=raster_settings,
        lights=lights,
    )
    assert images_by_categories.shape == (1, 32, 32, 4)

    voxels = torch.zeros(1, 8, 8, 8)  # tutorial: r2n2_batch["voxels"]; R2N2 voxels are 32^3
    voxels[0, 2:6, 2:6, 2:6] = 1
    vox_render = render_cubified_voxels(voxels, device=device, raster_settings=raster_settings)
    assert vox_render.shape == (1, 32, 32, 4) and (vox_render[..., 3] > 0).any()


def test_dataloaders_rendering_settings():
    """The tutorial's rendering cells, on a mesh built as it builds ShapeNet models (dataset parts left out)."""
    import torch
    from inverse3d.renderer import (
        OpenGLPerspectiveCameras,
        PointLights,
        RasterizationSettings,
        TexturesVertex,
        look_at_view_transform,
    )
    from inverse3d.structures import Meshes
    from inverse3d.renderer import HardPhongShader, MeshRasterizer, MeshRenderer  # what ShapeNetBase.render uses
    from inverse3d.utils import ico_sphere

    model = ico_sphere(1)  # tutorial: shapenet_dataset[6]
    model_verts, model_faces = model.verts_packed() * 0.3, model.faces_packed()
    model_textures = TexturesVertex(verts_features=torch.ones_like(model_verts, device=device)[None])
    shapenet_model_mesh = Meshes(
        verts=[model_verts.to(device)],
        faces=[model_faces.to(device)],
        textures=model_textures
    )

    R, T = look_at_view_transform(1.0, 1.0, 90)
    cameras = OpenGLPerspectiveCameras(R=R, T=T, device=device)
    raster_settings = RasterizationSettings(image_size=32)  # tutorial: 512
    lights = PointLights(location=torch.tensor([0.0, 1.0, -2.0], device=device)[None],device=device)

    renderer = MeshRenderer(
        rasterizer=MeshRasterizer(cameras=cameras, raster_settings=raster_settings),
        shader=HardPhongShader(device=device, cameras=cameras, lights=lights),
    )
    images = renderer(shapenet_model_mesh)
    assert images.shape == (1, 32, 32, 4) and torch.isfinite(images).all()
    assert 0.1 < _foreground(images).float().mean() < 0.95
    centre = cameras.get_camera_center()[0]
    torch.testing.assert_close(centre.norm(), torch.tensor(1.0))  # dist 1, elev 1 deg, azim 90 deg: on +X
    assert centre[0] > 0.99


# --- bundle_adjustment.ipynb ----------------------------------------------------------------------------------------

def _camera_graph(path: Path) -> None:
    """data/camera_graph.pth stand-in: ((R_abs, T_abs), (R_rel, T_rel), edges), the first camera the identity."""
    from inverse3d.renderer.cameras import SfMPerspectiveCameras
    from inverse3d.transforms.so3 import so3_exp_map

    gen = torch.Generator().manual_seed(1)
    N = 6
    log_R = torch.randn(N, 3, generator=gen) * 0.5
    log_R[0] = 0
    T = torch.randn(N, 3, generator=gen)
    T[0] = 0
    R = so3_exp_map(log_R)
    edges = torch.tensor([[i, j] for i in range(N) for j in range(i + 1, N)])
    g_i, g_j = (SfMPerspectiveCameras(R=R[edges[:, k]], T=T[edges[:, k]]).get_world_to_view_transform() for k in (0, 1))
    rel = g_i.inverse().compose(g_j).get_matrix()
    torch.save(((R, T), (rel[:, :3, :3], rel[:, 3, :3]), edges), path)


def test_bundle_adjustment(tmp_path):
    import torch
    from inverse3d.transforms.so3 import (
        so3_exp_map,
        so3_relative_angle,
    )
    from inverse3d.renderer.cameras import (
        SfMPerspectiveCameras,
    )

    torch.manual_seed(42)
    camera_graph_file = str(tmp_path / 'camera_graph.pth')  # tutorial: './data/camera_graph.pth'
    _camera_graph(camera_graph_file)
    (R_absolute_gt, T_absolute_gt), \
        (R_relative, T_relative), \
        relative_edges = \
            torch.load(camera_graph_file)
    cameras_relative = SfMPerspectiveCameras(
        R = R_relative.to(device),
        T = T_relative.to(device),
        device = device,
    )
    cameras_absolute_gt = SfMPerspectiveCameras(
        R = R_absolute_gt.to(device),
        T = T_absolute_gt.to(device),
        device = device,
    )
    N = R_absolute_gt.shape[0]

    def calc_camera_distance(cam_1, cam_2):
        R_distance = (1.-so3_relative_angle(cam_1.R, cam_2.R, cos_angle=True)).mean()
        T_distance = ((cam_1.T - cam_2.T)**2).sum(1).mean()
        return R_distance + T_distance

    def get_relative_camera(cams, edges):
        trans_i, trans_j = [
            SfMPerspectiveCameras(
                R = cams.R[edges[:, i]],
                T = cams.T[edges[:, i]],
                device = device,
            ).get_world_to_view_transform()
             for i in (0, 1)
        ]
        trans_rel = trans_i.inverse().compose(trans_j)
        matrix_rel = trans_rel.get_matrix()
        cams_relative = SfMPerspectiveCameras(
                            R = matrix_rel[:, :3, :3],
                            T = matrix_rel[:, 3, :3],
                            device = device,
                        )
        return cams_relative

    # the ground truth absolute cameras reproduce the relative ones
    assert calc_camera_distance(get_relative_camera(cameras_absolute_gt, relative_edges), cameras_relative) < 1e-5

    log_R_absolute_init = torch.randn(N, 3, dtype=torch.float32, device=device)
    T_absolute_init = torch.randn(N, 3, dtype=torch.float32, device=device)
    log_R_absolute_init[0, :] = 0.
    T_absolute_init[0, :] = 0.
    log_R_absolute = log_R_absolute_init.clone().detach()
    log_R_absolute.requires_grad = True
    T_absolute = T_absolute_init.clone().detach()
    T_absolute.requires_grad = True
    camera_mask = torch.ones(N, 1, dtype=torch.float32, device=device)
    camera_mask[0] = 0.
    optimizer = torch.optim.SGD([log_R_absolute, T_absolute], lr=.1, momentum=0.9)

    n_iter = 5  # tutorial: 2000
    distances = []
    for it in range(n_iter):
        optimizer.zero_grad()
        R_absolute = so3_exp_map(log_R_absolute * camera_mask)
        cameras_absolute = SfMPerspectiveCameras(
            R = R_absolute,
            T = T_absolute * camera_mask,
            device = device,
        )
        cameras_relative_composed = \
            get_relative_camera(cameras_absolute, relative_edges)
        camera_distance = \
            calc_camera_distance(cameras_relative_composed, cameras_relative)
        camera_distance.backward()
        optimizer.step()
        distances.append(float(camera_distance.detach()))
    assert np.isfinite(distances).all() and distances[-1] < distances[0]
    assert log_R_absolute.grad[0].abs().max() == 0 and log_R_absolute.grad[1:].abs().max() > 0  # camera 0 is fixed


# --- render_densepose.ipynb -----------------------------------------------------------------------------------------

def test_render_densepose():
    """SMPL / DensePose data replaced by an ico sphere with the same layout: a vertex template, DensePose vertices
    (1-based indices into it, some repeated), per-vertex U, V of shape (V', 1), faces and per-face body parts."""
    import torch
    from inverse3d.structures import Meshes
    from inverse3d.renderer import (
        look_at_view_transform,
        FoVPerspectiveCameras,
        PointLights,
        DirectionalLights,
        Materials,
        RasterizationSettings,
        MeshRenderer,
        MeshRasterizer,
        SoftPhongShader,
        TexturesUV
    )
    from inverse3d.utils import ico_sphere

    gen = torch.Generator().manual_seed(0)
    sphere = ico_sphere(1)
    v_template = sphere.verts_packed().to(device) * 0.8  # tutorial: SMPL's v_template (6890, 3)
    faces_sphere = sphere.faces_packed()
    # DensePose vertices: each face gets its own copies of its corners (as seams between parts do), 1-based
    verts = faces_sphere.reshape(-1) + 1  # (3 F,)
    faces = torch.arange(verts.shape[0]).reshape(-1, 3).to(device)  # (F, 3)
    U = torch.rand(verts.shape[0], 1, generator=gen)
    V = torch.rand(verts.shape[0], 1, generator=gen)
    face_indices = torch.randint(1, 25, (faces.shape[0],), generator=gen).float()
    tex = torch.rand(1, 24, 16, 3, generator=gen)  # tutorial: texture_from_SURREAL.png, (1, H, W, 3)

    offset_per_part = {}
    already_offset = set()
    cols, rows = 4, 6
    for i, u in enumerate(np.linspace(0, 1, cols, endpoint=False)):
        for j, v in enumerate(np.linspace(0, 1, rows, endpoint=False)):
            part = rows * i + j + 1  # parts are 1-indexed in face_indices
            offset_per_part[part] = (u, v)
    U_norm = U.clone()
    V_norm = V.clone()
    for i in range(len(faces)):
        face_vert_idxs = faces[i]
        part = face_indices[i]
        offset_u, offset_v = offset_per_part[int(part.item())]
        for vert_idx in face_vert_idxs:
            if vert_idx.item() not in already_offset:
                U_norm[vert_idx] = U[vert_idx] / cols + offset_u
                V_norm[vert_idx] = (1 - V[vert_idx]) / rows + offset_v
                already_offset.add(vert_idx.item())
    V_norm = 1 - V_norm

    verts_uv = torch.cat([U_norm[None],V_norm[None]], dim=2) # (1, 7829, 2)
    v_template_extended = v_template[verts-1][None] # (1, 7829, 3)
    texture = TexturesUV(maps=tex, faces_uvs=faces[None], verts_uvs=verts_uv)
    mesh = Meshes(v_template_extended, faces[None], texture)
    assert verts_uv.shape == (1, verts.shape[0], 2) and mesh.textures is texture

    R, T = look_at_view_transform(2.7, 0, 0)
    cameras = FoVPerspectiveCameras(device=device, R=R, T=T)
    raster_settings = RasterizationSettings(
        image_size=32,  # tutorial: 512
        blur_radius=0.0,
        faces_per_pixel=1,
    )
    lights = PointLights(device=device, location=[[0.0, 0.0, 2.0]])
    renderer = MeshRenderer(
        rasterizer=MeshRasterizer(
            cameras=cameras,
            raster_settings=raster_settings
        ),
        shader=SoftPhongShader(
            device=device,
            cameras=cameras,
            lights=lights
        )
    )
    images = renderer(mesh)
    assert images.shape == (1, 32, 32, 4) and torch.isfinite(images).all()
    front = _foreground(images)[0]
    assert 0.1 < front.float().mean() < 0.9
    assert images[0, ..., :3][front].std(0).min() > 0.02  # a random texture, sampled per part

    R, T = look_at_view_transform(2.7, 10, 180)
    cameras = FoVPerspectiveCameras(device=device, R=R, T=T)
    lights.location = torch.tensor([[2.0, 2.0, -2.0]], device=device)
    images_back = renderer(mesh, lights=lights, cameras=cameras)
    assert images_back.shape == (1, 32, 32, 4) and _foreground(images_back).any()
    assert not torch.allclose(images_back, images)
