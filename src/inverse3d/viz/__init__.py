"""Seeing results: turntables (GIF/MP4/PNG), dolly zooms, image grids, plots and the HTML report."""

from inverse3d._lazy import attach

_EXPORTS = {
    "render_turntable": ".turntable",
    "save_turntable": ".turntable",
    "render_views": ".turntable",
    "dolly_zoom": ".turntable",
    "save_dolly_zoom": ".turntable",
    "camera_path_frames": ".turntable",
    "save_image": ".images",
    "image_grid": ".images",
    "save_frames": ".images",
    "zoom": ".images",
    "Section": ".report",
    "write_page": ".report",
    "textured_globe": ".assets",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
