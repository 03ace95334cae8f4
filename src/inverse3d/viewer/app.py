"""The browser viewer: a viser server holding our items, with the GUI of ``inverse3d view``.

``Viewer(host, port)`` starts the server (viser serves its own bundled web client: nothing is fetched from the
internet) and builds the controls: show/hide per object, point size, wireframe, background colour, camera reset and
a screenshot button (a PNG of the browser's canvas, via viser's ``get_render``). ``Viewer.add(item)`` draws a
``inverse3d.viewer.sources`` item; a ``CheckpointItem`` gets a "Render view" button that renders the model from the
browser's camera at a chosen resolution, with a progress bar. ``Viewer.stop()`` shuts the server down.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from inverse3d.viewer.sources import (CheckpointItem, GaussiansItem, Item, MeshItem, PointsItem, SceneItem,
                                      VoxelsItem, voxels_to_mesh)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def require_viser():
    """The ``viser`` module, or an ``ImportError`` naming the extra that installs it."""
    try:
        import viser
    except ImportError as err:
        raise ImportError("the viewer needs viser: pip install -e '.[viewer]' (or pip install viser)") from err
    return viser


def port_is_free(host: str, port: int) -> bool:
    """Whether a TCP server can bind ``(host, port)`` now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def check_host_port(host: str, port: int) -> None:
    """Raises a one-line ``ValueError`` for a port outside 0..65535 or an empty host."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"--port must be an integer in 0..65535 (0: any free port); got {port!r}")
    if not host or not re.fullmatch(r"[A-Za-z0-9.:_-]+", host):
        raise ValueError(f"--host must be a host name or address such as 127.0.0.1; got {host!r}")


def _slug(name: str, taken: set[str]) -> str:
    base = "/" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "item")
    slug, i = base, 1
    while slug in taken:
        i += 1
        slug = f"{base}_{i}"
    taken.add(slug)
    return slug


def mesh_to_trimesh(item: MeshItem):
    """A ``trimesh.Trimesh`` of ``item`` with its UV texture (corners unshared, so seams keep their uvs) or vertex
    colours, for viser's GLB path."""
    import trimesh
    from PIL import Image

    if item.texture is not None and item.uvs is not None:
        F = item.faces.shape[0]
        verts = item.verts[item.faces].reshape(-1, 3)  # (3 F, 3)
        faces = np.arange(3 * F).reshape(F, 3)
        material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(item.texture))
        visual = trimesh.visual.TextureVisuals(uv=item.uvs.reshape(-1, 2), material=material)
        return trimesh.Trimesh(verts, faces, visual=visual, process=False)
    colors = None if item.colors is None else (np.clip(item.colors, 0, 1) * 255).round().astype(np.uint8)
    return trimesh.Trimesh(item.verts, item.faces, vertex_colors=colors, process=False)


class Viewer:
    """A viser server with the viewer's GUI (module docstring).

    Args:
        host: address to bind (127.0.0.1: this machine only; 0.0.0.0: every interface, with a printed warning).
        port: TCP port; 0 or a busy port: a free one is chosen and ``port_note`` says so.
        label: title shown at the top of the GUI panel.
        screenshot_dir: folder of the screenshot button's PNGs (created on the first screenshot).
        device: torch device of checkpoint renders.
        voxel_style: ``"cubes"`` or ``"marching-cubes"``, how voxel grids are drawn.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, label: str = "inverse3d",
                 screenshot_dir: str | Path = ".", device: str = "cpu", voxel_style: str = "cubes") -> None:
        check_host_port(host, port)
        viser = require_viser()
        self.notes: list[str] = []
        if host not in LOCAL_HOSTS:
            self.notes.append(f"warning: the viewer is bound to {host}: anyone who can reach this machine on that "
                              "address can open it (use --host 127.0.0.1 to keep it local)")
        if port == 0 or not port_is_free(host, port):
            with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                chosen = s.getsockname()[1]
            if port != 0:
                self.notes.append(f"port {port} is in use: using port {chosen} instead")
            port = chosen
        with contextlib.redirect_stdout(io.StringIO()):  # viser prints its own URL panel: we print ours
            self.server = viser.ViserServer(host=host, port=port, label=label, verbose=False)
        # no "share" button: it would open a tunnel through viser's public server
        self.server.gui.configure_theme(show_share_button=False)
        self.host, self.port = host, self.server.get_port()
        self.screenshot_dir = Path(screenshot_dir)
        self.device, self.voxel_style = device, voxel_style
        self.nodes: dict[str, dict[str, Any]] = {}  # slug -> {"handles": [...], "kind": ..., "wire": [...]}
        self._taken: set[str] = set()
        self._lock = threading.RLock()
        self._bounds: list[np.ndarray] = []  # (2, 3) boxes of everything drawn, for the camera reset
        self._home: tuple[np.ndarray, np.ndarray] | None = None
        self.screenshots: list[Path] = []
        self.server.scene.set_up_direction("+y")
        self._build_gui()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "[::]") else host
        return f"http://{shown}:{self.port}/"

    # GUI ---------------------------------------------------------------------------------------------------
    def _build_gui(self) -> None:
        gui = self.server.gui
        with gui.add_folder("View"):
            self.point_size = gui.add_slider("Point size", min=0.001, max=0.1, step=0.001, initial_value=0.01)
            self.wireframe = gui.add_checkbox("Wireframe", initial_value=False)
            self.background = gui.add_rgb("Background", initial_value=(255, 255, 255))
            self.reset_button = gui.add_button("Reset camera")
            self.screenshot_button = gui.add_button("Screenshot (PNG)")
            self.status = gui.add_markdown("")
        self.objects_folder = gui.add_folder("Objects")
        self.point_size.on_update(lambda _: self._apply_point_size())
        self.wireframe.on_update(lambda _: self._apply_wireframe())
        self.background.on_update(lambda _: self._apply_background())
        self.reset_button.on_click(lambda event: self.reset_camera())
        self.screenshot_button.on_click(lambda event: self._screenshot_clicked(event.client))

    def _apply_point_size(self) -> None:
        with self._lock:
            for node in self.nodes.values():
                for h in node["points"]:
                    h.point_size = float(self.point_size.value)

    def _apply_wireframe(self) -> None:
        with self._lock:
            for node in self.nodes.values():
                on = bool(self.wireframe.value) and node["visible"]
                for h in node["wire"]:
                    h.visible = on

    def _apply_background(self) -> None:
        rgb = np.asarray(self.background.value, dtype=np.uint8)
        self.server.scene.set_background_image(np.broadcast_to(rgb, (4, 4, 3)).copy(), format="png")

    def _set_visible(self, slug: str, visible: bool) -> None:
        with self._lock:
            node = self.nodes[slug]
            node["visible"] = visible
            for h in node["handles"]:
                h.visible = visible
            for h in node["wire"]:
                h.visible = visible and bool(self.wireframe.value)

    def reset_camera(self, clients=None) -> None:
        """Points every browser's camera (or those of ``clients``) at everything drawn, from the home view."""
        position, target = self.home_view()
        for client in (clients if clients is not None else self.server.get_clients().values()):
            client.camera.up_direction = (0.0, 1.0, 0.0)
            client.camera.position = position
            client.camera.look_at = target

    def home_view(self) -> tuple[np.ndarray, np.ndarray]:
        """(camera position, look-at point): the one set by an item (a scene's first camera), else a view from
        the front-right-above of the bounding box of everything drawn."""
        if self._home is not None:
            return self._home
        if not self._bounds:
            return np.array([2.0, 1.5, 2.5]), np.zeros(3)
        lo = np.min([b[0] for b in self._bounds], axis=0)
        hi = np.max([b[1] for b in self._bounds], axis=0)
        centre, radius = 0.5 * (lo + hi), max(float(np.linalg.norm(hi - lo)) * 0.5, 1e-3)
        return centre + radius * np.array([1.0, 0.8, 1.6]), centre

    def _set_home(self, position: np.ndarray, target: np.ndarray) -> None:
        self._home = (np.asarray(position, dtype=np.float64), np.asarray(target, dtype=np.float64))

    def _update_initial_camera(self) -> None:
        position, target = self.home_view()
        self.server.initial_camera.position = tuple(position)
        self.server.initial_camera.look_at = tuple(target)
        self.server.initial_camera.up = (0.0, 1.0, 0.0)

    def _screenshot_clicked(self, client) -> None:
        if client is None:
            return
        try:
            path = self.screenshot(client)
            self.status.content = f"saved `{path}`"
        except Exception as err:  # a closed tab or a timeout must not kill the server
            self.status.content = f"screenshot failed: {type(err).__name__}: {err}"

    def screenshot(self, client, height: int | None = None, width: int | None = None,
                   timeout: float = 30.0) -> Path:
        """Saves what ``client``'s browser shows as ``screenshot_dir/screenshot_NNN.png``; returns the path."""
        from PIL import Image

        from inverse3d.io.outputs import atomic_write

        height = height or min(int(client.camera.image_height or 720), 2048)
        width = width or min(int(client.camera.image_width or 1280), 2048)
        image = client.get_render(height, width, transport_format="png", timeout=timeout)  # (H, W, 4) RGBA
        rgba = np.asarray(image, dtype=np.uint8)
        if rgba.shape[-1] == 4:  # transparent where nothing was drawn: put the background colour there
            alpha = rgba[..., 3:4].astype(np.float32) / 255.0
            bg = np.asarray(self.background.value, dtype=np.float32)
            rgba = (rgba[..., :3] * alpha + bg * (1 - alpha)).round().astype(np.uint8)
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        n = len(self.screenshots)
        path = self.screenshot_dir / f"screenshot_{n:03d}.png"
        while path.exists():
            n += 1
            path = self.screenshot_dir / f"screenshot_{n:03d}.png"
        atomic_write(path, lambda tmp: Image.fromarray(rgba).save(tmp, format="PNG"))
        self.screenshots.append(path)
        return path

    # Items -------------------------------------------------------------------------------------------------
    def add(self, item: Item, name: str | None = None) -> str:
        """Draws ``item`` under a new top-level node (its slug, returned) with a show/hide checkbox."""
        with self._lock:
            slug = _slug(name or item.name, self._taken)
            node = {"handles": [], "points": [], "wire": [], "visible": True, "kind": type(item).__name__}
            self.nodes[slug] = node
            self._draw(slug, item, node)
            with self.objects_folder:
                box = self.server.gui.add_checkbox(slug.lstrip("/"), initial_value=True)
            box.on_update(lambda event, s=slug: self._set_visible(s, bool(event.target.value)))
            node["checkbox"] = box
            self._apply_point_size()
            self._update_initial_camera()
            return slug

    def _box(self, points: np.ndarray) -> None:
        if len(points):
            self._bounds.append(np.stack([points.min(0), points.max(0)]).astype(np.float64))

    def _draw(self, slug: str, item: Item, node: dict) -> None:
        scene = self.server.scene
        if isinstance(item, VoxelsItem):
            item = voxels_to_mesh(item, self.voxel_style)
        if isinstance(item, MeshItem):
            self._draw_mesh(slug, item, node)
        elif isinstance(item, PointsItem):
            colors = item.colors if item.colors is not None else np.array([0.2, 0.4, 0.9])
            node["points"].append(scene.add_point_cloud(slug, item.points, colors, point_size=0.01,
                                                        point_shape="circle"))
            node["handles"].append(node["points"][-1])
            self._box(item.points)
        elif isinstance(item, GaussiansItem):
            node["handles"].append(scene.add_gaussian_splats(slug, item.centers, item.covariances, item.rgbs,
                                                             item.opacities))
            self._box(item.centers)
        elif isinstance(item, SceneItem):
            self._draw_scene(slug, item, node)
        elif isinstance(item, CheckpointItem):
            self._draw_checkpoint(slug, item, node)
        else:
            raise TypeError(f"cannot draw a {type(item).__name__}")

    def _draw_mesh(self, slug: str, item: MeshItem, node: dict) -> None:
        scene = self.server.scene
        if item.texture is not None or item.colors is not None:
            node["handles"].append(scene.add_mesh_trimesh(slug, mesh_to_trimesh(item)))
        else:
            node["handles"].append(scene.add_mesh_simple(slug, item.verts, item.faces, color=(180, 180, 200),
                                                         side="double"))
        node["wire"].append(scene.add_mesh_simple(slug + "_wireframe", item.verts, item.faces, color=(20, 20, 20),
                                                  wireframe=True, visible=bool(self.wireframe.value)))
        self._box(item.verts)

    def _draw_scene(self, slug: str, item: SceneItem, node: dict) -> None:
        from inverse3d.transforms import matrix_to_quaternion
        import torch

        scene = self.server.scene
        centres = np.stack([c.c2w[:3, 3] for c in item.cameras]) if item.cameras else np.zeros((0, 3))
        extent = float(np.linalg.norm(centres.max(0) - centres.min(0))) if len(centres) > 1 else 1.0
        rots = np.stack([c.c2w[:3, :3] for c in item.cameras]) if item.cameras else np.zeros((0, 3, 3))
        wxyz = matrix_to_quaternion(torch.from_numpy(rots)).numpy() if len(rots) else rots
        for i, cam in enumerate(item.cameras):
            node["handles"].append(scene.add_camera_frustum(
                f"{slug}/camera_{i:03d}", fov=cam.fov, aspect=cam.aspect, scale=0.06 * extent, image=cam.image,
                wxyz=wxyz[i], position=cam.c2w[:3, 3], thickness=0.002 * extent, color=(40, 90, 200)))
        self._box(centres)
        if item.mesh is not None:
            self._draw_mesh(f"{slug}/mesh", item.mesh, node)
        if item.points is not None:
            colors = item.points.colors if item.points.colors is not None else np.array([0.2, 0.4, 0.9])
            h = scene.add_point_cloud(f"{slug}/points", item.points.points, colors, point_size=0.01, visible=False)
            node["points"].append(h)  # hidden at first (the mesh shows the same surface); shown from the tree
        if len(centres) and item.mesh is not None:
            self._set_home(centres[0], item.mesh.verts.mean(0))

    def _draw_checkpoint(self, slug: str, item: CheckpointItem, node: dict) -> None:
        from inverse3d.viewer.checkpoints import make_renderer

        renderer = make_renderer(item.task, item.path, self.device)
        node["renderer"] = renderer
        if hasattr(renderer, "initial_camera"):
            position, target = renderer.initial_camera()
            self._set_home(position, target)
            self._bounds.append(np.stack([target - 1e-3, target + 1e-3]))
        gui = self.server.gui
        with gui.add_folder(f"Render {slug.lstrip('/')}"):
            gui.add_markdown(renderer.describe())
            size = gui.add_slider("Height (px)", min=16, max=1024, step=16, initial_value=128)
            button = gui.add_button("Render view")
            bar = gui.add_progress_bar(0.0, animated=False)
            text = gui.add_markdown("")
        node.update(render_size=size, render_button=button, render_bar=bar, render_text=text)
        button.on_click(lambda event: self.render_checkpoint(slug, event.client))

    def render_checkpoint(self, slug: str, client) -> np.ndarray | None:
        """Renders the checkpoint of node ``slug`` from ``client``'s camera (at the slider's height and the
        browser's aspect), shows it as the scene's background and in the panel; returns (H, W, 3) uint8."""
        from inverse3d.viewer.checkpoints import ViewCamera

        node = self.nodes[slug]
        if client is None:
            return None
        cam = client.camera
        height = int(node["render_size"].value)
        aspect = float(cam.aspect) if cam.aspect else 4.0 / 3.0
        camera = ViewCamera(np.asarray(cam.position), np.asarray(cam.wxyz), float(cam.fov), height,
                            max(1, round(height * aspect)))
        button, bar, text = node["render_button"], node["render_bar"], node["render_text"]
        button.disabled = True
        t0 = time.perf_counter()

        def progress(fraction: float) -> None:
            bar.value = 100.0 * fraction

        try:
            rgb = node["renderer"].render(camera, progress)
        except Exception as err:
            text.content = f"render failed: {type(err).__name__}: {err}"
            return None
        finally:
            button.disabled = False
        image = (rgb * 255).round().astype(np.uint8)
        self.server.scene.set_background_image(image, format="png")
        text.content = f"{camera.width}x{camera.height} px in {time.perf_counter() - t0:.1f} s"
        node["last_render"] = image
        return image

    def stop(self) -> None:
        """Shuts the server down (its threads and port)."""
        with contextlib.redirect_stdout(io.StringIO()):  # viser's "Server stopped"
            self.server.stop()
