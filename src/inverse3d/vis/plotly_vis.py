"""Interactive 3D plots of Meshes, Pointclouds and cameras with plotly (PyTorch3D's ``pytorch3d.vis.plotly_vis``).

plotly is optional: ``pip install inverse3d[vis]``. This module imports without it; ``plot_scene`` and
``plot_batch_individually`` raise an ImportError naming the extra when plotly is missing.
RayBundles are not plotted (the implicit renderer's ray bundles are not part of inverse3d yet).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple, Sequence

import torch

from inverse3d.renderer.camera_utils import camera_to_eye_at_up
from inverse3d.renderer.cameras import CamerasBase
from inverse3d.structures import Meshes, Pointclouds


def _plotly():
    """(plotly.graph_objects, plotly.subplots) or an ImportError naming the extra to install."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as err:
        raise ImportError(
            "inverse3d.vis.plotly_vis needs plotly: pip install inverse3d[vis]  (or pip install plotly)"
        ) from err
    return go, make_subplots


def get_camera_wireframe(scale: float = 0.3) -> torch.Tensor:
    """(15, 3) float32 points of a polyline drawing a camera in its view space (at the origin, looking along +Z).

    The line runs over the image rectangle at z = 2 with a small "up" tick on top (+Y), back to the centre, and
    out to a point at z = 3 on the optical axis; all scaled by ``scale``.
    """
    a, b = (-1.0, 0.75, 2.0), (1.0, 0.75, 2.0)  # top corners of the image rectangle
    c, d = (-1.0, -0.75, 2.0), (1.0, -0.75, 2.0)  # bottom corners
    up1, up2 = (0.0, 0.75, 2.0), (0.0, 1.0, 2.0)  # the up tick
    centre, front = (0.0, 0.0, 0.0), (0.0, 0.0, 3.0)
    path = [a, up1, up2, up1, b, d, c, a, centre, b, d, centre, c, centre, front]
    return torch.tensor(path, dtype=torch.float32) * scale


class AxisArgs(NamedTuple):
    """Settings applied to all three axes of every subplot (any key of plotly's ``layout.scene.xaxis``)."""

    showgrid: bool = False
    zeroline: bool = False
    showline: bool = False
    ticks: str = ""
    showticklabels: bool = False
    backgroundcolor: str = "#fff"
    showaxeslabels: bool = False


class Lighting(NamedTuple):
    """plotly ``Mesh3d.lighting`` of mesh traces."""

    ambient: float = 0.8
    diffuse: float = 1.0
    fresnel: float = 0.0
    specular: float = 0.0
    roughness: float = 0.5
    facenormalsepsilon: float = 1e-6
    vertexnormalsepsilon: float = 1e-12


def _len(struct) -> int:
    return len(struct) if isinstance(struct, (list, tuple)) else len(struct)


def _grid(n: int, ncols: int) -> tuple[int, int]:
    """(rows, cols) of a grid of n subplots, ncols per row."""
    cols = max(1, min(ncols, n))
    return (n + cols - 1) // cols, cols


def _cell(subplot_idx: int, ncols: int) -> dict[str, int]:
    return {"row": subplot_idx // ncols + 1, "col": subplot_idx % ncols + 1}


def _mesh_colors(meshes: Meshes, verts: torch.Tensor) -> torch.Tensor | None:
    """(V, 3) per-vertex colours in [0, 255] of a TexturesVertex mesh (joined as a scene), else None."""
    from inverse3d.renderer.mesh.textures import TexturesVertex

    textures = meshes.textures
    if not isinstance(textures, TexturesVertex):
        return None
    colors = torch.cat(textures.verts_features_list(), 0)
    if colors.shape != verts.shape:
        return None
    return (colors.detach().cpu().float().clamp(0, 1) * 255).round()


def _add_mesh(fig, go, meshes: Meshes, name: str, cell: dict, lighting: dict) -> torch.Tensor:
    """One ``Mesh3d`` trace with every mesh of the batch; returns its (V, 3) vertices for the axis ranges."""
    verts = torch.cat(meshes.verts_list(), 0).detach().cpu().float() if len(meshes) else torch.zeros(0, 3)
    # faces indexed into the concatenated vertices: offset each mesh's faces by the verts before it
    offsets = torch.cumsum(meshes.num_verts_per_mesh(), 0) - meshes.num_verts_per_mesh()
    faces = torch.cat([f + o for f, o in zip(meshes.faces_list(), offsets.tolist())], 0).cpu() \
        if len(meshes) else torch.zeros(0, 3, dtype=torch.long)
    colors = _mesh_colors(meshes, verts)
    trace = go.Mesh3d(
        x=verts[:, 0].numpy(), y=verts[:, 1].numpy(), z=verts[:, 2].numpy(),
        i=faces[:, 0].numpy(), j=faces[:, 1].numpy(), k=faces[:, 2].numpy(),
        vertexcolor=None if colors is None else [f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in colors.tolist()],
        lighting=lighting, name=name,
    )
    fig.add_trace(trace, **cell)
    return verts


def _add_pointcloud(fig, go, clouds: Pointclouds, name: str, cell: dict, max_points: int,
                    marker_size: int) -> torch.Tensor:
    """One ``Scatter3d`` marker trace of at most ``max_points`` points (chosen at random per cloud)."""
    per_cloud = max(1, max_points // max(1, len(clouds)))
    points, colors = [], []
    features = clouds.features_list() if clouds.features_list() is not None else [None] * len(clouds)
    for cloud, feats in zip(clouds.points_list(), features):
        keep = torch.randperm(cloud.shape[0], device=cloud.device)[:per_cloud] if cloud.shape[0] > per_cloud \
            else torch.arange(cloud.shape[0], device=cloud.device)
        points.append(cloud[keep].detach().cpu().float())
        if feats is not None and feats.shape[-1] in (3, 4):
            colors.append(feats[keep].detach().cpu().float())
    points = torch.cat(points, 0) if points else torch.zeros(0, 3)
    marker: dict[str, Any] = {"size": marker_size}
    if colors and sum(c.shape[0] for c in colors) == points.shape[0]:
        rgb = (torch.cat(colors, 0)[:, :3].clamp(0, 1) * 255).round()
        marker["color"] = [f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in rgb.tolist()]
    fig.add_trace(go.Scatter3d(x=points[:, 0].numpy(), y=points[:, 1].numpy(), z=points[:, 2].numpy(),
                               mode="markers", marker=marker, name=name), **cell)
    return points


def _add_cameras(fig, go, cameras: CamerasBase, name: str, cell: dict, scale: float) -> torch.Tensor:
    """One ``Scatter3d`` line trace of every camera's wireframe, placed in world space (None gaps between)."""
    wire = get_camera_wireframe(scale).to(cameras.R.device)  # (15, 3) view space
    view_to_world = cameras.get_world_to_view_transform().inverse()
    world = view_to_world.transform_points(wire[None].expand(len(cameras), -1, -1))  # (N, 15, 3)
    world = world.detach().cpu().float()
    gap = torch.full((world.shape[0], 1, 3), float("nan"))
    line = torch.cat([world, gap], 1).reshape(-1, 3)[:-1]  # NaN rows break the line between cameras
    coords = [[None if v != v else v for v in line[:, k].tolist()] for k in range(3)]
    fig.add_trace(go.Scatter3d(x=coords[0], y=coords[1], z=coords[2], mode="lines", marker={"size": 1},
                               name=name), **cell)
    return world.reshape(-1, 3)


def _scale_to_bounds(value: float, bounds: Sequence[float], is_position: bool) -> float:
    """A world coordinate in plotly's camera units: the axis range maps to [-1, 1] (directions are not shifted)."""
    half = (bounds[1] - bounds[0]) / 2
    return (value - (bounds[0] + half) * is_position) / half


@torch.no_grad()
def plot_scene(
    plots: dict[str, dict[str, Any]],
    *,
    viewpoint_cameras: CamerasBase | None = None,
    ncols: int = 1,
    camera_scale: float = 0.3,
    pointcloud_max_points: int = 20000,
    pointcloud_marker_size: int = 1,
    raybundle_max_rays: int = 20000,
    raybundle_max_points_per_ray: int = 1000,
    raybundle_ray_point_marker_size: int = 1,
    raybundle_ray_line_width: int = 1,
    **kwargs,
):
    """A plotly figure with one 3D subplot per key of ``plots``, each holding one trace per struct.

    Args:
        plots: {subplot title: {trace name: Meshes | Pointclouds | cameras}}; a batched struct is drawn whole in
            its one trace (a Meshes batch as one Mesh3d, a cameras batch as one wireframe line).
        viewpoint_cameras: 1 camera, or one per subplot: each subplot is seen from it (else plotly's default view).
        ncols: subplots per row.
        camera_scale: size of the camera wireframes (``get_camera_wireframe``).
        pointcloud_max_points: at most this many points per Pointclouds trace, sampled at random.
        pointcloud_marker_size: plotly marker size of points.
        raybundle_*: accepted for PyTorch3D compatibility; ray bundles are not plotted here.
        **kwargs: ``lighting`` (``Lighting``), ``axis_args`` (``AxisArgs``, applied to all axes), and ``xaxis``,
            ``yaxis``, ``zaxis`` dicts of plotly scene axis settings.
    Returns:
        ``plotly.graph_objects.Figure``.
    Raises:
        ImportError: plotly is not installed. ValueError: a struct that is none of the above.
    """
    go, make_subplots = _plotly()
    titles = list(plots)
    rows, cols = _grid(len(titles), ncols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles,
                        specs=[[{"type": "scene"}] * cols for _ in range(rows)],
                        horizontal_spacing=0.02, vertical_spacing=0.05)
    lighting = kwargs.get("lighting", Lighting())._asdict()
    axis = kwargs.get("axis_args", AxisArgs())._asdict()
    axis_settings = [{**axis, **kwargs.get(key, {})} for key in ("xaxis", "yaxis", "zaxis")]

    eye_at_up = None
    if viewpoint_cameras is not None:
        if len(viewpoint_cameras) in (1, len(titles)):
            eye_at_up = camera_to_eye_at_up(viewpoint_cameras.get_world_to_view_transform().cpu())
        else:
            warnings.warn(f"plot_scene: {len(viewpoint_cameras)} viewpoint cameras given; 1 or {len(titles)} "
                          "(one per subplot) are needed, so they are ignored", stacklevel=2)

    for idx, title in enumerate(titles):
        cell = _cell(idx, cols)
        points = [torch.zeros(0, 3)]
        for name, struct in plots[title].items():
            if isinstance(struct, Meshes):
                points.append(_add_mesh(fig, go, struct, name, cell, lighting))
            elif isinstance(struct, Pointclouds):
                points.append(_add_pointcloud(fig, go, struct, name, cell, pointcloud_max_points,
                                              pointcloud_marker_size))
            elif isinstance(struct, CamerasBase):
                points.append(_add_cameras(fig, go, struct, name, cell, camera_scale))
            else:
                raise ValueError(f"plot_scene: {name!r} is {type(struct).__name__}, not Meshes, Pointclouds "
                                 "or cameras (RayBundles are not plotted by inverse3d)")
        # a cube around everything drawn, so that "aspectmode: cube" keeps shapes undistorted
        allpts = torch.cat(points, 0)
        allpts = allpts[torch.isfinite(allpts).all(1)]
        if allpts.shape[0]:
            lo, hi = allpts.min(0).values, allpts.max(0).values
            centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.1 + 1e-6
        else:
            centre, half = torch.zeros(3), 1.0
        ranges = [[float(centre[k]) - half, float(centre[k]) + half] for k in range(3)]
        scene: dict[str, Any] = {
            key: {**settings, "range": rng} for key, settings, rng in zip(("xaxis", "yaxis", "zaxis"),
                                                                        axis_settings, ranges)
        }
        camera: dict[str, Any] = {"up": {"x": 0.0, "y": 1.0, "z": 0.0}}  # PyTorch3D's world up is +Y
        if eye_at_up is not None:
            k = min(len(eye_at_up[0]) - 1, idx)
            eye, at, up = (v[k].tolist() for v in eye_at_up)
            names = ("x", "y", "z")
            camera["eye"] = {n: _scale_to_bounds(eye[i], ranges[i], True) for i, n in enumerate(names)}
            camera["center"] = {n: _scale_to_bounds(at[i], ranges[i], True) for i, n in enumerate(names)}
            camera["up"] = {n: _scale_to_bounds(up[i], ranges[i], False) for i, n in enumerate(names)}
        scene.update({"aspectmode": "cube", "camera": camera})
        fig.update_layout({f"scene{idx + 1}": scene})
    return fig


def _item(struct, index: int):
    """Element ``index`` of a batched struct (a cameras batch keeps its type)."""
    return struct[index]


@torch.no_grad()
def plot_batch_individually(
    batched_structs,
    *,
    viewpoint_cameras: CamerasBase | None = None,
    ncols: int = 1,
    extend_struct: bool = True,
    subplot_titles: list[str] | None = None,
    **kwargs,
):
    """One subplot per batch element: subplot i holds element i of every struct (``plot_scene`` does the drawing).

    Args:
        batched_structs: a Meshes, Pointclouds or cameras batch, or a list of them whose sizes are each 1 or the
            largest size B.
        viewpoint_cameras, ncols, **kwargs: as ``plot_scene``.
        extend_struct: a struct of size 1 appears in every subplot (else only in the first).
        subplot_titles: B titles (default "subplot 1", ...).
    Returns:
        ``plotly.graph_objects.Figure``, or None (with a warning) when there is nothing to plot.
    Raises:
        ValueError: sizes other than 1 and B, or a wrong number of titles.
    """
    _plotly()
    structs = list(batched_structs) if isinstance(batched_structs, (list, tuple)) else [batched_structs]
    if not structs or max(len(s) for s in structs) == 0:
        warnings.warn("plot_batch_individually: no structs to plot", stacklevel=2)
        return None
    size = max(len(s) for s in structs)
    for struct in structs:
        if len(struct) not in (1, size):
            raise ValueError(f"plot_batch_individually: batch size {len(struct)} is neither 1 nor {size}")
    if subplot_titles and len(subplot_titles) != size:
        raise ValueError(f"plot_batch_individually: {len(subplot_titles)} subplot titles for {size} subplots")
    titles = subplot_titles or [f"subplot {i + 1}" for i in range(size)]
    scenes: dict[str, dict[str, Any]] = {}
    for scene, title in enumerate(titles):
        scenes[title] = {}
        for j, struct in enumerate(structs):
            if len(struct) == 1 and scene > 0 and not extend_struct:
                continue
            index = 0 if len(struct) == 1 else scene
            scenes[title][f"trace{scene + 1}-{j + 1}"] = _item(struct, index)
    return plot_scene(scenes, viewpoint_cameras=viewpoint_cameras, ncols=ncols, **kwargs)
