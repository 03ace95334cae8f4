"""Signed distance functions and sphere tracing.

- ``primitives``: SDFs of sphere, box, torus, capsule, cylinder and plane (functions on local points and placed
  modules), CSG (union, intersection, difference, smooth union).
- ``mesh_sdf``: the signed distance to a closed triangle mesh (exact distance, winding-number sign).
- ``tracing``: ``sphere_tracing``, ``sdf_normals``, ``shade_points`` and ``SphereTracingRenderer``.
- ``scenes``: the course's torus and a scene of more than 20 primitives.
"""

from inverse3d._lazy import attach

_EXPORTS = {
    "sdf_sphere": ".primitives",
    "sdf_box": ".primitives",
    "sdf_torus": ".primitives",
    "sdf_capsule": ".primitives",
    "sdf_cylinder": ".primitives",
    "sdf_plane": ".primitives",
    "sdf_union": ".primitives",
    "sdf_intersection": ".primitives",
    "sdf_difference": ".primitives",
    "sdf_smooth_union": ".primitives",
    "SDFShape": ".primitives",
    "Primitive": ".primitives",
    "Sphere": ".primitives",
    "Box": ".primitives",
    "Torus": ".primitives",
    "Capsule": ".primitives",
    "Cylinder": ".primitives",
    "Plane": ".primitives",
    "Union": ".primitives",
    "Intersection": ".primitives",
    "Difference": ".primitives",
    "SmoothUnion": ".primitives",
    "winding_number": ".mesh_sdf",
    "unsigned_distance": ".mesh_sdf",
    "mesh_sdf": ".mesh_sdf",
    "MeshSDF": ".mesh_sdf",
    "sphere_tracing": ".tracing",
    "sdf_normals": ".tracing",
    "ray_box_intersection": ".tracing",
    "shade_points": ".tracing",
    "SDFFragments": ".tracing",
    "SphereTracingRenderer": ".tracing",
    "torus_scene": ".scenes",
    "many_primitives_scene": ".scenes",
    "count_primitives": ".scenes",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
