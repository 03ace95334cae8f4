"""PyTorch3D's ``pytorch3d.vis``: interactive plotly scenes and texture-map debugging images.

``plotly_vis`` needs the optional ``plotly`` package (``pip install inverse3d[vis]``); importing this package
works without it, and the plotting functions raise an ImportError naming the extra when called.
"""

from inverse3d._lazy import attach

_EXPORTS = {
    "AxisArgs": ".plotly_vis",
    "Lighting": ".plotly_vis",
    "get_camera_wireframe": ".plotly_vis",
    "plot_batch_individually": ".plotly_vis",
    "plot_scene": ".plotly_vis",
    "texturesuv_image_matplotlib": ".texture_vis",
    "texturesuv_image_PIL": ".texture_vis",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
