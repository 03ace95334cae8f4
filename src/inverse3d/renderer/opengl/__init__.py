"""PyTorch3D's OpenGL rasteriser (``MeshRasterizerOpenGL``) is not provided by inverse3d.

It needs an OpenGL/EGL context shared with CUDA (pyopengl + pycuda), which inverse3d does without by design: it runs
the same code on the CPU and on CUDA with no compiled or system dependencies. Importing this package raises
ImportError saying so.
"""

from inverse3d import _absent
from inverse3d._lazy import not_provided

raise not_provided("inverse3d.renderer.opengl (MeshRasterizerOpenGL)", _absent.OPENGL)
