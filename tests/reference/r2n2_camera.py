"""R2N2's camera written the long way, as Mesh R-CNN / PyTorch3D's R2N2 reader compose it, for the tests.

Blender's world is Z-up; ShapeNet's OBJ is Y-up and Blender turns it a quarter turn about x on import. The camera
sits on the +x axis of an "object" frame at ``dist``, and that frame is the world rotated by -azimuth about z and
-elevation about y. A 4x4 world-to-camera matrix (column vectors, OpenGL camera looking down -z) is then turned
into PyTorch3D's row-vector (R, T) by flipping the camera's x and z axes.
"""

import math

import torch


def r2n2_camera_reference(azim: float, elev: float, dist: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(R (3, 3), T (3,)) float64 with ``X_view = X_world @ R + T``, world = ShapeNet OBJ coordinates."""
    a, e = math.radians(-azim), math.radians(-elev)
    rot_z = torch.tensor([[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    rot_y = torch.tensor([[math.cos(e), 0.0, -math.sin(e)], [0.0, 1.0, 0.0], [math.sin(e), 0.0, math.cos(e)]], dtype=torch.float64)
    world_to_object = rot_y @ rot_z
    # object axes -> camera axes: camera x = object y, camera y = object z (up), camera z = object x (towards eye)
    object_to_camera = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    extrinsic = torch.eye(4, dtype=torch.float64)
    extrinsic[:3, :3] = object_to_camera @ world_to_object
    extrinsic[:3, 3] = -(object_to_camera @ torch.tensor([dist, 0.0, 0.0], dtype=torch.float64))
    # OBJ (x, y, z) -> Blender (x, -z, y)
    obj_to_blender = torch.tensor([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=torch.float64)
    extrinsic = extrinsic @ obj_to_blender
    flip = torch.diag(torch.tensor([-1.0, 1.0, -1.0, 1.0], dtype=torch.float64))
    rows = extrinsic.T @ flip  # row-vector form
    return rows[:3, :3], rows[3, :3]
