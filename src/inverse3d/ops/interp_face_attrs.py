"""PyTorch3D's ``ops.interp_face_attrs`` path; ``interpolate_face_attributes`` lives in ``renderer.mesh.utils``."""

from inverse3d.renderer.mesh.utils import interpolate_face_attributes

__all__ = ["interpolate_face_attributes"]
