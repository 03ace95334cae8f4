"""inverse3d.vis.plotly_vis: PyTorch3D's plotly scenes; plotly is optional (the ``vis`` extra)."""

import builtins
import importlib
import sys

import pytest
import torch

from inverse3d.renderer import FoVPerspectiveCameras, TexturesVertex, look_at_view_transform
from inverse3d.structures import Meshes, Pointclouds
from inverse3d.utils import ico_sphere


def test_imports_without_plotly_and_says_which_extra_when_used(monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)  # "import plotly" now raises ImportError
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    monkeypatch.setitem(sys.modules, "plotly.subplots", None)
    for name in ("inverse3d.vis", "inverse3d.vis.plotly_vis"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    vis = importlib.import_module("inverse3d.vis")
    from inverse3d.vis.plotly_vis import AxisArgs, Lighting, get_camera_wireframe

    assert AxisArgs().showgrid is False and Lighting().ambient == 0.8
    assert get_camera_wireframe().shape == (15, 3)
    with pytest.raises(ImportError, match=r"pip install inverse3d\[vis\]"):
        vis.plot_scene({"a": {"m": ico_sphere(0)}})
    with pytest.raises(ImportError, match=r"pip install inverse3d\[vis\]"):
        vis.plot_batch_individually(ico_sphere(0))


def test_the_import_error_comes_from_a_missing_plotly_only(monkeypatch):
    real_import = builtins.__import__

    def no_plotly(name, *args, **kwargs):
        if name.startswith("plotly"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    from inverse3d.vis import plotly_vis

    monkeypatch.setattr(builtins, "__import__", no_plotly)
    with pytest.raises(ImportError, match="needs plotly"):
        plotly_vis._plotly()


def test_camera_wireframe_shape_scale_and_path():
    from inverse3d.vis import get_camera_wireframe as wire

    small, large = wire(0.3), wire(0.6)
    assert small.shape == (15, 3) and small.dtype == torch.float32
    torch.testing.assert_close(large, 2 * small)
    # the camera centre is on the path, the front point on the +Z axis, everything in front of the camera
    assert (wire(1.0) == 0).all(1).any() and wire(1.0)[-1].tolist() == [0.0, 0.0, 3.0]
    assert (wire(1.0)[:, 2] >= 0).all()


try:
    import plotly  # noqa: F401
except ImportError:
    plotly = None
needs_plotly = pytest.mark.skipif(plotly is None, reason="plotly (the optional 'vis' extra) is not installed")


def _scene():
    mesh = ico_sphere(1)
    mesh.textures = TexturesVertex(torch.rand(1, mesh.verts_packed().shape[0], 3))
    clouds = Pointclouds([torch.randn(40, 3), torch.randn(30, 3)], features=[torch.rand(40, 3), torch.rand(30, 3)])
    R, T = look_at_view_transform(3.0, 0.0, [0.0, 90.0])
    return mesh, clouds, FoVPerspectiveCameras(R=R, T=T)


@needs_plotly
def test_plot_scene_traces_of_meshes_clouds_and_cameras():
    import plotly.graph_objects as go
    from inverse3d.vis import AxisArgs, Lighting, plot_scene

    mesh, clouds, cameras = _scene()
    fig = plot_scene({"scene": {"mesh": mesh, "points": clouds, "cams": cameras}},
                     axis_args=AxisArgs(showgrid=True), lighting=Lighting(ambient=0.5), pointcloud_max_points=50)
    assert isinstance(fig, go.Figure)
    kinds = {t.name: t for t in fig.data}
    assert set(kinds) == {"mesh", "points", "cams"}
    m = kinds["mesh"]
    assert isinstance(m, go.Mesh3d) and len(m.x) == mesh.verts_packed().shape[0] and len(m.i) == 80
    assert m.lighting.ambient == 0.5 and len(m.vertexcolor) == len(m.x)
    p = kinds["points"]
    assert p.mode == "markers" and len(p.x) == 50  # 25 of each cloud
    c = kinds["cams"]
    assert c.mode == "lines" and len(c.x) == 2 * 15 + 1  # two wireframes, a gap between
    # each wireframe starts from its camera's centre, in world coordinates
    centres = cameras.get_camera_center()
    line = torch.tensor([[v if v is not None else float("nan") for v in (c.x[i], c.y[i], c.z[i])]
                         for i in range(len(c.x))])
    for k in range(2):
        assert torch.isclose(line[16 * k:16 * k + 15], centres[k], atol=1e-4).all(1).any()
    assert fig.layout.scene.xaxis.showgrid is True and fig.layout.scene.aspectmode == "cube"
    assert fig.layout.scene.camera.up.y == 1.0


@needs_plotly
def test_plot_scene_subplots_and_viewpoints():
    from inverse3d.vis import plot_scene

    mesh, clouds, cameras = _scene()
    fig = plot_scene({"left": {"m": mesh}, "right": {"p": clouds}}, viewpoint_cameras=cameras, ncols=2)
    assert [a.text for a in fig.layout.annotations] == ["left", "right"]
    assert fig.data[0].scene == "scene" and fig.data[1].scene == "scene2"
    # camera 0 is on +Z (azim 0), camera 1 on +X (azim 90): the plotly eyes point the same ways
    eye1, eye2 = fig.layout.scene.camera.eye, fig.layout.scene2.camera.eye
    assert eye1.z > abs(eye1.x) and eye2.x > abs(eye2.z)
    with pytest.warns(UserWarning, match="viewpoint cameras"):
        plot_scene({"a": {"m": mesh}, "b": {"m": mesh}, "c": {"m": mesh}}, viewpoint_cameras=cameras)
    with pytest.raises(ValueError, match="not Meshes"):
        plot_scene({"a": {"x": torch.zeros(3)}})


@needs_plotly
def test_plot_batch_individually():
    from inverse3d.vis import plot_batch_individually

    mesh, clouds, cameras = _scene()
    fig = plot_batch_individually([mesh.extend(2), clouds, cameras], subplot_titles=["one", "two"])
    assert [t.name for t in fig.data] == ["trace1-1", "trace1-2", "trace1-3", "trace2-1", "trace2-2", "trace2-3"]
    assert len(fig.data[1].x) == 40 and len(fig.data[4].x) == 30  # cloud i in subplot i
    fig = plot_batch_individually([mesh, clouds], extend_struct=False)
    assert [t.name for t in fig.data] == ["trace1-1", "trace1-2", "trace2-2"]
    with pytest.raises(ValueError, match="neither 1 nor 3"):
        plot_batch_individually([mesh.extend(3), clouds])
    with pytest.raises(ValueError, match="subplot titles"):
        plot_batch_individually(clouds, subplot_titles=["only one"])
    with pytest.warns(UserWarning, match="no structs"):
        assert plot_batch_individually([]) is None
    empty = Meshes([], [])
    with pytest.warns(UserWarning, match="no structs"):
        assert plot_batch_individually(empty) is None
