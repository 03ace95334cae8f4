"""Rotations and rigid/similarity transforms with PyTorch3D's row-vector conventions."""

from inverse3d._lazy import attach

_EXPORTS = {
    "Transform3d": ".transform3d",
    "Translate": ".transform3d",
    "Rotate": ".transform3d",
    "Scale": ".transform3d",
    "RotateAxisAngle": ".transform3d",
    "axis_angle_to_matrix": ".rotation_conversions",
    "axis_angle_to_quaternion": ".rotation_conversions",
    "euler_angles_to_matrix": ".rotation_conversions",
    "matrix_to_axis_angle": ".rotation_conversions",
    "matrix_to_euler_angles": ".rotation_conversions",
    "matrix_to_quaternion": ".rotation_conversions",
    "matrix_to_rotation_6d": ".rotation_conversions",
    "quaternion_apply": ".rotation_conversions",
    "quaternion_invert": ".rotation_conversions",
    "quaternion_multiply": ".rotation_conversions",
    "quaternion_raw_multiply": ".rotation_conversions",
    "quaternion_to_axis_angle": ".rotation_conversions",
    "quaternion_to_matrix": ".rotation_conversions",
    "random_quaternions": ".rotation_conversions",
    "random_rotation": ".rotation_conversions",
    "random_rotations": ".rotation_conversions",
    "rotation_6d_to_matrix": ".rotation_conversions",
    "standardize_quaternion": ".rotation_conversions",
    "so3_exp_map": ".so3",
    "so3_exponential_map": ".so3",
    "so3_log_map": ".so3",
    "so3_relative_angle": ".so3",
    "so3_rotation_angle": ".so3",
    "se3_exp_map": ".se3",
    "se3_log_map": ".se3",
    "acos_linear_extrapolation": ".math",
    "look_at_rotation": "inverse3d.renderer.cameras",
    "look_at_view_transform": "inverse3d.renderer.cameras",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
