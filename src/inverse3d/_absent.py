"""Why inverse3d leaves out some of PyTorch3D's public names, in one place.

Packages list these names as not provided (see ``_lazy.attach``); importing or reading one raises
``NotProvidedError``, an ImportError whose message gives the reason and what to use instead.
"""

PULSAR = (
    "Pulsar is a CUDA-only compiled renderer; use PointsRenderer (PointsRasterizer + AlphaCompositor or "
    "NormWeightedCompositor), which renders points in pure PyTorch on the CPU or CUDA"
)
PULSAR_CAMERAS = (
    "Pulsar camera parameters only feed PyTorch3D's CUDA-only Pulsar renderer, which inverse3d does not have; "
    "render points with PointsRenderer (PointsRasterizer + AlphaCompositor)"
)
OPENGL = (
    "the OpenGL rasteriser needs OpenGL/EGL and pycuda; use MeshRasterizer, which rasterises in pure PyTorch on "
    "the CPU or CUDA"
)
