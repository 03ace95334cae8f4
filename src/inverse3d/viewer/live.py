"""Live training in the browser: a ``LoopHook`` for ``inverse3d.training.fit_loop`` that streams the step, the
loss and the current prediction to a ``Viewer``.

Use: ``with loop_hooks(LiveViewer("127.0.0.1:8080")): train(config)`` (what ``--viewer`` on the train commands
does). The step and loss are sent at most ``text_hz`` times a second. The prediction is computed on the training
thread, between steps, so it sees one consistent set of weights and never races the optimiser; the RNG is forked
around it (training draws the same random numbers with and without the viewer) and the model is put in eval mode
for it. Its cost is bounded: the next prediction waits until the time spent predicting is at most ``budget``
(default 5 %) of the time elapsed, so training slows by at most about that much. Sending is asynchronous (viser's
own thread).

What "the prediction" is comes from the task: a task may define ``live_prediction(model, batch, camera)`` returning
an ``inverse3d.viewer.sources`` item or an (H, W, 3) image in [0, 1] (``camera``: the browser's ``ViewCamera``,
or None before a browser connects); otherwise ``LIVE_PREDICTIONS`` (keyed by the task's class name) has it.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any, Callable

import numpy as np
import torch

from inverse3d.viewer.checkpoints import ViewCamera


def parse_address(text: str) -> tuple[str, int]:
    """``"PORT"``, ``"HOST"``, ``"HOST:PORT"`` or ``"[V6]:PORT"`` -> (host, port); host defaults to 127.0.0.1 and
    port to 8080. Raises a one-line ``ValueError`` naming ``--viewer``."""
    text = str(text).strip()
    host, port = "127.0.0.1", "8080"
    if text.isdigit():
        port = text
    elif text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
        host = host or "127.0.0.1"
    elif text:
        host = text
    if not port.isdigit() or not 0 <= int(port) <= 65535 or not re.fullmatch(r"[A-Za-z0-9.:_-]+", host):
        raise ValueError(f"--viewer must be PORT, HOST or HOST:PORT (e.g. 8080 or 0.0.0.0:8080); got {text!r}")
    return host, int(port)


def look_at_camera(eye, target, fov: float, height: int, width: int) -> ViewCamera:
    """A ``ViewCamera`` at ``eye`` looking at ``target`` with world +Y up (OpenCV axes: +Y down in the image)."""
    from inverse3d.transforms import matrix_to_quaternion

    eye, target = np.asarray(eye, dtype=np.float64), np.asarray(target, dtype=np.float64)
    z = target - eye
    z /= max(np.linalg.norm(z), 1e-12)
    x = np.cross(np.array([0.0, -1.0, 0.0]), z)
    if np.linalg.norm(x) < 1e-9:  # looking straight up or down
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    wxyz = matrix_to_quaternion(torch.from_numpy(np.stack([x, y, z], axis=1))).numpy()
    return ViewCamera(eye, wxyz, fov, height, width)


def nerf_prediction(task, model, batch, camera: ViewCamera | None, size: int = 64) -> np.ndarray:
    """The NeRF seen from the browser's camera (else the first training camera), ``size`` pixels high."""
    from inverse3d.tasks.nerf.render import render_rays_chunked

    return field_prediction(render_rays_chunked, task, model, camera, size)


def surface_prediction(task, model, batch, camera: ViewCamera | None, size: int = 64) -> np.ndarray:
    """The neural surface seen from the browser's camera (else the first training camera), ``size`` pixels high."""
    from inverse3d.tasks.surface.render import render_rays_chunked

    return field_prediction(render_rays_chunked, task, model, camera, size)


def field_prediction(render_rays_chunked, task, model, camera: ViewCamera | None, size: int) -> np.ndarray:
    """A field trained on a scene (``task.scene_meta``: bounds, cameras) rendered by ``render_rays_chunked(model,
    origins, directions, background, chunk)`` over white, ``size`` pixels high: (size, W, 3) in [0, 1]."""
    from inverse3d.viewer.checkpoints import render_in_blocks

    meta = task.scene_meta
    if camera is None:
        cams = meta["cameras"]
        lo, hi = (np.asarray(b, dtype=np.float64) for b in meta["bounds"])
        fov = 2.0 * float(np.arctan(0.5 * cams["height"] / cams["fy"]))
        camera = look_at_camera(cams["centres"][0], 0.5 * (lo + hi), fov, size,
                                max(1, round(size * cams["width"] / cams["height"])))
    else:
        camera = ViewCamera(camera.position, camera.wxyz, camera.fov, size, max(1, round(size * camera.width
                                                                                           / camera.height)))
    device = next(model.parameters()).device
    bg = torch.ones(3, device=device)
    return render_in_blocks(lambda o, d: render_rays_chunked(model, o, d, bg, 8192)["rgb"], camera, device, 1 << 16)


def single_view_prediction(task, model, batch, camera) -> Any:
    """The shape predicted for the first image of the step's batch (voxels meshed, points, or a mesh)."""
    from inverse3d.tasks.single_view.predictions import voxels_to_meshes
    from inverse3d.viewer.sources import MeshItem, PointsItem

    pred = model.predict(batch["images"][:1])
    if "points" in pred:
        return PointsItem("prediction", pred["points"][0].float().cpu().numpy())
    if "verts" in pred:
        return MeshItem("prediction", pred["verts"][0].float().cpu().numpy(), pred["faces"].long().cpu().numpy())
    verts, faces = voxels_to_meshes(torch.sigmoid(pred["voxel_logits"].float().cpu()))
    return MeshItem("prediction", verts[0].numpy(), faces[0].long().numpy())


def splat_prediction(task, model, batch, camera) -> Any:
    """The Gaussians themselves, drawn natively by the viewer (viser's splats) from wherever the user looks."""
    from inverse3d.viewer.sources import gaussians_item

    with torch.no_grad():
        return gaussians_item("prediction", model.means.detach().cpu(), model.log_scales.detach().cpu(),
                              model.quats.detach().cpu(), model.sh_dc.detach().cpu().reshape(-1, 3),
                              model.opacity_logits.detach().cpu())


LIVE_PREDICTIONS: dict[str, Callable[..., Any]] = {
    "NeRFTask": nerf_prediction,
    "SurfaceTask": surface_prediction,
    "SplatTask": splat_prediction,
    "SingleViewTraining": single_view_prediction,
}
"""Task class name -> ``fn(task, model, batch, camera)`` returning an item or an (H, W, 3) image in [0, 1]."""


class LiveViewer:
    """A ``LoopHook`` streaming a training run to a browser viewer (module docstring).

    Args:
        address: ``[HOST:]PORT`` as ``--viewer`` takes it (``parse_address``).
        budget: the largest fraction of the training time spent on predictions.
        min_interval: at least this many seconds between two predictions.
        text_hz: how often per second the step and loss are sent.
        viewer: an existing ``Viewer`` to draw into (else one is started at ``address``).
    """

    def __init__(self, address: str = "8080", *, budget: float = 0.05, min_interval: float = 0.5,
                 text_hz: float = 5.0, viewer=None) -> None:
        from inverse3d.viewer.app import Viewer

        if not 0 < budget < 1:
            raise ValueError(f"budget must be in (0, 1); got {budget}")
        if viewer is None:
            host, port = parse_address(address)
            viewer = Viewer(host, port, label="inverse3d training")
        self.viewer = viewer
        self.budget, self.min_interval, self.text_interval = budget, min_interval, 1.0 / text_hz
        self.predictions = 0
        self.predict_seconds = 0.0
        self.errors: list[str] = []
        gui = viewer.server.gui
        with gui.add_folder("Training"):
            self.step_text = gui.add_markdown("waiting for the first step")
            self.image = gui.add_image(np.full((8, 8, 3), 255, np.uint8), label="prediction (a render) or input image")
        self._t_start = self._t_text = self._t_pred = self._last_cost = 0.0
        self._slug: str | None = None
        self._tried = False

    @property
    def url(self) -> str:
        return self.viewer.url

    def on_start(self, run, task, model) -> None:
        self._t_start = time.perf_counter()
        self._t_pred = self._t_start

    def _due(self, now: float) -> bool:
        """Whether a prediction now, if it costs as much as the last one, keeps the time spent predicting within
        ``budget`` of the time elapsed. The first one comes after the first step, so that even a short run shows
        its prediction; the next ones at least ``min_interval`` apart."""
        if not self._tried:
            self._tried = True
            return True
        if now - self._t_pred < self.min_interval:
            return False
        cost = self.predict_seconds + self._last_cost
        return cost <= self.budget * (now - self._t_start + self._last_cost)

    def on_step(self, info) -> None:
        now = time.perf_counter()
        if now - self._t_text >= self.text_interval:
            self._t_text = now
            self.step_text.content = f"step **{info.step}**, loss **{info.loss:.5g}**"
        if self._due(now):
            self._predict(info)
            self._t_pred = time.perf_counter()
            self._last_cost = self._t_pred - now
            self.predict_seconds += self._last_cost

    def _browser_camera(self) -> ViewCamera | None:
        for client in self.viewer.server.get_clients().values():
            cam = client.camera
            h, w = int(cam.image_height or 0), int(cam.image_width or 0)
            if h > 0 and w > 0:
                return ViewCamera(np.asarray(cam.position), np.asarray(cam.wxyz), float(cam.fov), h, w)
        return None

    def _predict(self, info) -> None:
        from inverse3d.viewer.sources import MeshItem, PointsItem

        task, model = info.task, info.model
        fn = getattr(task, "live_prediction", None)
        if fn is None:
            table_fn = LIVE_PREDICTIONS.get(type(task).__name__)
            if table_fn is None:
                return
            fn = lambda m, b, c: table_fn(task, m, b, c)  # noqa: E731
        was_training = model.training
        device = next(model.parameters()).device
        try:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
                model.eval()
                out = fn(model, info.batch, self._browser_camera())
        except Exception as err:  # the viewer must never stop the training
            if len(self.errors) < 5:
                self.errors.append(f"{type(err).__name__}: {err}")
            return
        finally:
            model.train(was_training)
        self.predictions += 1
        if isinstance(out, np.ndarray):
            self.image.image = (np.clip(out, 0, 1) * 255).round().astype(np.uint8)
        elif (isinstance(out, MeshItem) and len(out.faces)) or (isinstance(out, PointsItem) and len(out.points)):
            self._show(out)  # an empty prediction (nothing occupied yet) keeps the previous one
        if "images" in (info.batch if isinstance(info.batch, dict) else {}):
            img = info.batch["images"][0].detach().float().cpu().clamp(0, 1).numpy()
            self.image.image = (img[..., :3] * 255).round().astype(np.uint8)

    def _show(self, item) -> None:
        """Replaces the previous prediction in the 3D view by ``item``."""
        viewer = self.viewer
        with viewer._lock:
            if self._slug is None:
                self._slug = viewer.add(item, "prediction")
            else:
                node = viewer.nodes[self._slug]
                node.update(handles=[], points=[], wire=[])
                viewer._draw(self._slug, item, node)
                viewer._set_visible(self._slug, node["visible"])
                viewer._apply_point_size()

    def on_end(self, result) -> None:
        self.step_text.content = (f"finished at step **{result.step}**, last loss "
                                  f"**{result.losses[-1] if result.losses else float('nan'):.5g}**")

    def stop(self) -> None:
        self.viewer.stop()


@contextlib.contextmanager
def training_viewer(address: str | None):
    """What ``--viewer ADDRESS`` on a train command does: starts a ``LiveViewer`` at ``address`` (nothing when
    None, and nothing on torchrun ranks other than 0), prints its URL, makes it a ``fit_loop`` hook for the ``with``
    block, then prints what it cost and stops it. Bad addresses and a missing viser fail with one line first."""
    import os

    from inverse3d.training.loop import loop_hooks
    from inverse3d.viewer.app import require_viser

    if address is None or int(os.environ.get("RANK", "0") or 0) != 0:
        yield None
        return
    parse_address(address)
    try:
        require_viser()
    except ImportError as err:
        raise ValueError(f"--viewer: {err}") from None
    live = LiveViewer(address)
    for note in live.viewer.notes:
        print(note)
    print(f"live viewer at {live.url}", flush=True)
    try:
        with loop_hooks(live):
            yield live
    finally:
        print(f"live viewer: {live.predictions} predictions in {live.predict_seconds:.2f} s"
              + (f"; errors: {'; '.join(live.errors)}" if live.errors else ""))
        live.stop()
