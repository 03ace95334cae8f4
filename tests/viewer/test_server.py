"""The viser viewer: scene nodes and controls on the server, ports, checkpoint renders, and the page loaded in
headless Chromium (skipped without viser or without chromium)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("viser", reason="the viewer extra (pip install -e '.[viewer]') is not installed")

from inverse3d.viewer.app import Viewer, port_is_free  # noqa: E402
from inverse3d.viewer.sources import MeshItem, load_source  # noqa: E402

from .helpers import chromium, sphere  # noqa: E402

KINDS = ["tex.obj", "col.ply", "pts.ply", "pts.npz", "vox.npz", "vox.pt", "splat.ply", "box"]


@pytest.fixture
def viewer(tmp_path):
    v = Viewer("127.0.0.1", 0, screenshot_dir=tmp_path / "shots")
    yield v
    v.stop()


def node_names(v: Viewer) -> set[str]:
    """The names of the scene nodes the server holds (what a newly connecting browser receives)."""
    return set(v.server.scene._handle_from_node_name)


def test_every_kind_becomes_scene_nodes_with_controls(files, viewer):
    slugs = [viewer.add(load_source(files[k])) for k in KINDS]
    assert slugs == ["/" + k for k in KINDS]
    names = node_names(viewer)
    for mesh in ("/tex.obj", "/col.ply", "/vox.npz", "/vox.pt"):
        assert {mesh, mesh + "_wireframe"} <= names
    assert {"/pts.ply", "/pts.npz", "/splat.ply", "/box/mesh", "/box/points"} <= names
    assert sum(n.startswith("/box/camera_") for n in names) == 5
    assert [k for k, n in viewer.nodes.items() if n["points"]] == ["/pts.ply", "/pts.npz", "/box"]
    # wireframe overlays follow the checkbox and the object's own visibility
    wires = viewer.nodes["/tex.obj"]["wire"]
    assert not wires[0].visible
    viewer.wireframe.value = True
    viewer._apply_wireframe()
    assert wires[0].visible
    viewer._set_visible("/tex.obj", False)
    assert not wires[0].visible and not viewer.nodes["/tex.obj"]["handles"][0].visible
    viewer.point_size.value = 0.05
    viewer._apply_point_size()
    assert viewer.nodes["/pts.npz"]["points"][0].point_size == pytest.approx(0.05)
    # the home view of a scene is its first camera, looking at the mesh
    position, target = viewer.home_view()
    scene = load_source(files["box"])
    np.testing.assert_allclose(position, scene.cameras[0].c2w[:3, 3])


def test_ports_and_hosts(viewer):
    assert viewer.url == f"http://127.0.0.1:{viewer.port}/" and viewer.port > 0 and viewer.notes == []
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        v = Viewer("127.0.0.1", taken)
        try:
            assert v.port != taken and any(f"port {taken} is in use" in n for n in v.notes)
        finally:
            v.stop()
    v = Viewer("0.0.0.0", 0)
    try:
        assert any(n.startswith("warning: the viewer is bound to 0.0.0.0") for n in v.notes)
    finally:
        v.stop()
    port = viewer.port
    viewer.stop()
    deadline = time.monotonic() + 10
    while not port_is_free("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_is_free("127.0.0.1", port)  # stop() released the port


def test_nerf_checkpoint_renders_a_training_view_exactly(files, nerf_checkpoint):
    import torch

    from inverse3d.datasets.scenes import load_scene
    from inverse3d.tasks.nerf.render import render_view
    from inverse3d.viewer.checkpoints import ViewCamera, make_renderer
    from inverse3d.transforms import matrix_to_quaternion

    item = load_source(nerf_checkpoint)
    assert item.task == "nerf"
    renderer = make_renderer("nerf", nerf_checkpoint)
    scene = load_scene(files["box"], "train", white_background=False)
    frame = scene.frames[1]
    c2w = torch.as_tensor(frame.c2w_opencv, dtype=torch.float64)
    camera = ViewCamera(c2w[:3, 3].numpy(), matrix_to_quaternion(c2w[:3, :3]).numpy(),
                        2 * float(np.arctan(0.5 * frame.height / frame.fy)), frame.height, frame.width)
    fractions: list[float] = []
    renderer.chunk = 16  # blocks of 4 * 16 rays: several, so that the progress is reported more than once
    image = renderer.render(camera, fractions.append)
    expected = render_view(renderer.model, scene, 1, background=torch.ones(3))["rgb"].numpy()
    assert image.shape == (16, 16, 3)
    np.testing.assert_allclose(image, expected.clip(0, 1), atol=1e-4)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 1


NETWORK_LOG_BROWSER_HOSTS = ("google.com", "googleapis.com", "gvt1.com")
"""Hosts of Chromium's own background services (updates, accounts, autofill): requests no page makes."""


def _chromium(url: str, profile: str, net_log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [chromium(), "--headless", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=640,480",
         # offline: every host name but localhost resolves to nothing, and every request is logged
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", f"--log-net-log={net_log}", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    """Stops Chromium and its helper processes (its own process group): a renderer still writing into the profile
    after the browser process exits would make the profile's removal fail."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="chromium is not installed")
def test_page_loads_offline_in_chromium_and_draws(files, nerf_checkpoint, viewer, tmp_path):
    v, f = sphere(2)
    red = np.tile(np.array([[0.9, 0.1, 0.1]], np.float32), (v.shape[0], 1))
    viewer.add(MeshItem("ball", v.numpy(), f.numpy(), colors=red))
    viewer.add(load_source(files["pts.npz"]))
    slug = viewer.add(load_source(nerf_checkpoint))
    viewer._home = None  # look at the ball, not from the checkpoint's training camera
    viewer._update_initial_camera()
    net_log = tmp_path / "net.json"
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = _chromium(viewer.url, profile, net_log)
        try:
            client = _wait(lambda: next(iter(viewer.server.get_clients().values()), None), 120,
                           "the page to connect its websocket")
            _wait(lambda: client.camera.image_height, 60, "the page to report its camera")
            # the page's canvas (what the Screenshot button saves) shows the red ball once the GLB is decoded
            deadline, frac = time.monotonic() + 150, 0.0
            while frac < 0.01 and time.monotonic() < deadline:
                path = viewer.screenshot(client, 120, 160, timeout=60)
                shot = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(path))
                frac = float(((shot[..., 0] > 150) & (shot[..., 1] < 90) & (shot[..., 2] < 90)).mean())
            assert frac >= 0.01, f"no red ball in {path}"
            assert shot.shape == (120, 160, 3) and len(np.unique(shot.reshape(-1, 3), axis=0)) > 20
            # Reset camera moves the browser's camera to the home view
            client.camera.position = (5.0, 0.0, 0.0)
            viewer.reset_camera([client])
            home, _ = viewer.home_view()
            _wait(lambda: np.allclose(client.camera.position, home, atol=1e-3), 30, "the camera reset")
            # the Render view button's path, with this browser's camera
            image = viewer.render_checkpoint(slug, client)
            assert image is not None and image.shape[0] == 128 and image.dtype == np.uint8
            assert viewer.nodes[slug]["render_bar"].value == pytest.approx(100.0)
        finally:
            _stop(proc)
    urls = set(re.findall(r'"url":"([^"]+)"', net_log.read_text(errors="replace")))
    page = {u for u in urls if not any(re.match(rf"https?://([a-z0-9-]+\.)*{re.escape(h)}/", u)
                                       for h in NETWORK_LOG_BROWSER_HOSTS)}
    assert f"http://127.0.0.1:{viewer.port}/" in page
    assert all(re.match(rf"(http|ws)://127\.0\.0\.1:{viewer.port}/", u) for u in page), sorted(page)
    _wait(lambda: not viewer.server.get_clients(), 30, "the page to disconnect")


@pytest.mark.slow
def test_view_command_serves_and_stops(files, tmp_path):
    import os
    import sys

    p = subprocess.run([sys.executable, "-m", "inverse3d.cli.main", "view", str(files["tex.obj"]), str(files["box"]),
                        "--port", "0", "--seconds", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stderr
    assert re.search(r"viewer at http://127\.0\.0\.1:\d+/ \(Ctrl-C to stop\)", p.stdout), p.stdout
    assert "tex.obj: mesh from" in p.stdout and "box: scene from" in p.stdout
    assert p.stdout.strip().endswith("viewer stopped")
