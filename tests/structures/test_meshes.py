"""Meshes: every view and index map against per-mesh loops, geometry against face-by-face references,
batch operations, textures travelling with the meshes, gradients and bad input."""

import pytest
import torch
from conftest import DEVICES
from reference import structures as ref

from inverse3d.structures import Meshes, join_meshes_as_batch, join_meshes_as_scene

# ------------------------------------------------------------------------------------------------
# inputs


def cube(size: float = 1.0, dtype=torch.float32):
    """Axis-aligned cube centred at the origin, 8 vertices, 12 outward-facing triangles."""
    verts = torch.tensor(
        [[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)], dtype=dtype
    ) * size
    # vertex index = 4 * (x > 0) + 2 * (y > 0) + (z > 0)
    faces = torch.tensor(
        [
            [0, 1, 3], [0, 3, 2],  # -x
            [4, 6, 7], [4, 7, 5],  # +x
            [0, 4, 5], [0, 5, 1],  # -y
            [2, 3, 7], [2, 7, 6],  # +y
            [0, 2, 6], [0, 6, 4],  # -z
            [1, 5, 7], [1, 7, 3],  # +z
        ]
    )
    return verts, faces


def random_mesh(num_verts: int, num_faces: int, dtype=torch.float32):
    verts = torch.randn(num_verts, 3, dtype=dtype)
    faces = torch.stack([torch.randperm(num_verts)[:3] for _ in range(num_faces)]) if num_faces else torch.zeros(0, 3, dtype=torch.int64)
    return verts, faces


def hetero_batch(dtype=torch.float32):
    """Four meshes of different sizes, the third one empty."""
    meshes = [random_mesh(5, 4, dtype), random_mesh(8, 10, dtype), random_mesh(0, 0, dtype), random_mesh(4, 2, dtype)]
    return [v for v, _ in meshes], [f for _, f in meshes]


# ------------------------------------------------------------------------------------------------
# views and index maps


def check_views(mesh: Meshes, verts: list, faces: list) -> None:
    """Every view and index map of ``mesh`` equals the loop reference of the lists."""
    num_v = [v.shape[0] for v in verts]
    num_f = [f.shape[0] for f in faces]
    assert len(mesh) == len(verts)
    assert mesh.num_verts_per_mesh().tolist() == num_v
    assert mesh.num_faces_per_mesh().tolist() == num_f
    assert all(torch.equal(a.cpu(), b) for a, b in zip(mesh.verts_list(), verts))
    assert all(torch.equal(a.cpu(), b) for a, b in zip(mesh.faces_list(), faces))

    pv = ref.packed_views(verts)
    torch.testing.assert_close(mesh.verts_packed().cpu(), pv["packed"])
    assert mesh.verts_packed_to_mesh_idx().tolist() == pv["to_item"].tolist()
    assert mesh.mesh_to_verts_packed_first_idx().tolist() == pv["first"].tolist()
    pf = ref.packed_views(faces)
    assert mesh.faces_packed_to_mesh_idx().tolist() == pf["to_item"].tolist()
    assert mesh.mesh_to_faces_packed_first_idx().tolist() == pf["first"].tolist()
    assert mesh.faces_packed().tolist() == ref.faces_packed(verts, faces).tolist()

    max_v, max_f = max(num_v), max(num_f)
    torch.testing.assert_close(mesh.verts_padded().cpu(), ref.padded_view(verts, max_v, 0.0))
    assert mesh.faces_padded().tolist() == ref.padded_view(faces, max_f, -1).tolist()
    idx = mesh.verts_padded_to_packed_idx()
    torch.testing.assert_close(mesh.verts_padded().reshape(-1, 3)[idx], mesh.verts_packed())
    assert mesh.valid.tolist() == [v > 0 and f > 0 for v, f in zip(num_v, num_f)]


def test_views_of_heterogeneous_batch_with_empty_mesh():
    verts, faces = hetero_batch()
    check_views(Meshes(verts, faces), verts, faces)
    assert not Meshes(verts, faces).equisized


@pytest.mark.parametrize("first", ["packed", "padded", "list"])
def test_views_do_not_depend_on_the_order_they_are_computed(first):
    verts, faces = hetero_batch()
    mesh = Meshes(verts, faces)
    getattr(mesh, f"verts_{first}")()
    getattr(mesh, f"faces_{first}")()
    check_views(mesh, verts, faces)
    # a mesh whose only views are packed (as after offset_verts_ or a scene join) rebuilds the others
    packed_only = Meshes._from_views(
        [v.shape[0] for v in verts], [f.shape[0] for f in faces], mesh.device, mesh._dtype,
        _verts_packed=mesh.verts_packed(), _faces_packed=mesh.faces_packed(),
    )
    check_views(packed_only, verts, faces)


def test_padded_input():
    verts = torch.randn(3, 6, 3)
    faces = torch.tensor([[[0, 1, 2], [3, 4, 5], [-1, -1, -1]], [[0, 2, 4], [-1, -1, -1], [-1, -1, -1]], [[5, 4, 3], [1, 2, 3], [0, 1, 5]]])
    mesh = Meshes(verts, faces)
    # As in PyTorch3D every mesh of a padded input has all V vertices.
    assert mesh.num_verts_per_mesh().tolist() == [6, 6, 6]
    assert mesh.num_faces_per_mesh().tolist() == [2, 1, 3]
    check_views(mesh, list(verts), [faces[0, :2], faces[1, :1], faces[2]])
    assert mesh.verts_padded() is verts


def test_equisized_batch_and_all_rows_minus_one_in_lists():
    v, f = cube()
    mesh = Meshes([v, v + 1], [f, torch.cat([f, torch.full((2, 3), -1)])])
    assert mesh.equisized and mesh.num_faces_per_mesh().tolist() == [12, 12]


@pytest.mark.parametrize("device", DEVICES)
def test_device_and_dtype_follow_inputs(device):
    verts, faces = hetero_batch(torch.float64)
    mesh = Meshes([v.to(device) for v in verts], [f.to(device) for f in faces])
    assert mesh.device.type == device
    for t in (mesh.verts_packed(), mesh.verts_padded(), mesh.verts_normals_packed(), mesh.faces_areas_packed()):
        assert t.device.type == device and t.dtype == torch.float64
    for t in (mesh.faces_packed(), mesh.edges_packed(), mesh.verts_packed_to_mesh_idx()):
        assert t.device.type == device and t.dtype == torch.int64
    check_views(mesh, verts, faces)


def test_empty_meshes_do_not_crash_any_view():
    empties = [
        Meshes([], []),
        Meshes([torch.zeros(0, 3)], [torch.zeros(0, 3, dtype=torch.int64)]),
        Meshes([torch.zeros(0, 3), torch.rand(3, 3)], [torch.zeros(0, 3, dtype=torch.int64), torch.zeros(0, 3, dtype=torch.int64)]),
        Meshes(torch.zeros(2, 0, 3), torch.zeros(2, 0, 3, dtype=torch.int64)),
    ]
    for mesh in empties:
        assert mesh.isempty()
        n = len(mesh)
        assert mesh.verts_packed().shape[1] == 3 and mesh.faces_packed().shape == (0, 3)
        assert mesh.verts_padded().shape[0] == n and mesh.faces_padded().shape[0] == n
        assert mesh.edges_packed().shape == (0, 2) and mesh.num_edges_per_mesh().tolist() == [0] * n
        assert mesh.faces_areas_packed().shape == (0,) and mesh.faces_normals_padded().shape[0] == n
        assert not torch.isnan(mesh.verts_normals_packed()).any()
        assert mesh.verts_normals_padded().shape[0] == n and len(mesh.verts_normals_list()) == n
        assert mesh.get_bounding_boxes().shape == (n, 3, 2)
        assert mesh.laplacian_packed().shape[0] == mesh.verts_packed().shape[0]
        assert len(mesh.extend(2)) == 2 * n if n else True
        mesh.clone(), mesh.detach(), mesh[:], mesh.offset_verts(torch.zeros(3))


# ------------------------------------------------------------------------------------------------
# geometry


def test_cube_areas_normals_edges():
    verts, faces = cube(2.0)
    mesh = Meshes([verts], [faces])
    torch.testing.assert_close(mesh.faces_areas_packed(), torch.full((12,), 2.0))
    centroids = verts[faces].mean(1)
    normals = mesh.faces_normals_packed()
    torch.testing.assert_close(normals.norm(dim=1), torch.ones(12))
    # each face normal is the outward axis of its cube face
    torch.testing.assert_close(normals, torch.sign(centroids) * (centroids.abs() > 0.99).float())
    vn = mesh.verts_normals_packed()
    torch.testing.assert_close(vn.norm(dim=1), torch.ones(8))
    assert ((vn * verts).sum(1) > 0).all()  # outward
    assert mesh.edges_packed().shape == (18, 2) and mesh.num_edges_per_mesh().tolist() == [18]
    torch.testing.assert_close(mesh.get_bounding_boxes(), torch.tensor([[[-1.0, 1.0]] * 3]))


def test_symmetric_vertex_normal():
    # an octahedron: every vertex normal is the vertex direction
    verts = torch.tensor([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    faces = torch.tensor([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    mesh = Meshes([verts], [faces])
    torch.testing.assert_close(mesh.verts_normals_packed(), verts)


def test_geometry_matches_face_by_face_reference():
    verts, faces = hetero_batch(torch.float64)
    mesh = Meshes(verts, faces)
    vp, fp = mesh.verts_packed(), mesh.faces_packed()
    areas, normals = ref.face_areas_normals(vp, fp)
    torch.testing.assert_close(mesh.faces_areas_packed(), areas)
    torch.testing.assert_close(mesh.faces_normals_packed(), normals)
    torch.testing.assert_close(mesh.verts_normals_packed(), ref.vertex_normals(vp, fp))
    for got, want, nums in (
        (mesh.faces_normals_list(), normals, mesh.num_faces_per_mesh()),
        (mesh.verts_normals_list(), ref.vertex_normals(vp, fp), mesh.num_verts_per_mesh()),
    ):
        for a, b in zip(got, want.split(nums.tolist())):
            torch.testing.assert_close(a, b)
    torch.testing.assert_close(
        mesh.verts_normals_padded(), ref.padded_view(mesh.verts_normals_list(), mesh.verts_padded().shape[1], 0.0)
    )
    torch.testing.assert_close(
        mesh.faces_normals_padded(), ref.padded_view(mesh.faces_normals_list(), mesh.faces_padded().shape[1], 0.0)
    )


def test_zero_area_faces_give_no_nan():
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [3, 0, 0], [5, 5, 5]], requires_grad=True)
    # face 1 is degenerate (collinear), face 2 repeats a vertex; vertex 4 belongs only to degenerate faces
    faces = torch.tensor([[0, 1, 2], [1, 3, 4], [5, 5, 4]])
    mesh = Meshes([verts], [faces])
    assert mesh.faces_areas_packed()[1:].abs().max() == 0
    assert torch.equal(mesh.faces_normals_packed()[1:], torch.zeros(2, 3))
    vn = mesh.verts_normals_packed()
    assert not torch.isnan(vn).any()
    assert torch.equal(vn[4], torch.zeros(3)) and torch.equal(vn[5], torch.zeros(3))
    torch.testing.assert_close(vn[0], torch.tensor([0.0, 0, 1]))
    (vn.sum() + mesh.faces_normals_packed().sum() + mesh.faces_areas_packed().sum()).backward()
    assert torch.isfinite(verts.grad).all()


def test_gradcheck_normals_and_areas():
    verts, faces = random_mesh(5, 4, torch.float64)
    faces_list = [faces]

    def face_normals(v):
        return Meshes([v], faces_list).faces_normals_packed()

    def face_areas(v):
        return Meshes([v], faces_list).faces_areas_packed()

    def vert_normals(v):
        return Meshes([v], faces_list).verts_normals_packed()

    v = verts.clone().requires_grad_(True)
    for fn in (face_normals, face_areas, vert_normals):
        assert torch.autograd.gradcheck(fn, (v,))


def test_edges_match_reference_and_faces_to_edges():
    verts, faces = hetero_batch()
    mesh = Meshes(verts, faces)
    edges = mesh.edges_packed()
    assert [tuple(e) for e in edges.tolist()] == ref.unique_edges(mesh.faces_packed())
    fp, f2e = mesh.faces_packed(), mesh.faces_packed_to_edges_packed()
    for face, face_edges in zip(fp.tolist(), f2e.tolist()):
        for k in range(3):  # edge k is opposite vertex k
            assert sorted(edges[face_edges[k]].tolist()) == sorted(face[:k] + face[k + 1 :])
    e2m = mesh.edges_packed_to_mesh_idx()
    assert e2m.tolist() == mesh.verts_packed_to_mesh_idx()[edges[:, 0]].tolist()
    num = [int((e2m == i).sum()) for i in range(len(mesh))]
    assert mesh.num_edges_per_mesh().tolist() == num
    assert mesh.mesh_to_edges_packed_first_idx().tolist() == [sum(num[:i]) for i in range(len(num))]


def test_laplacian_matches_reference():
    verts, faces = hetero_batch()
    verts.append(torch.randn(2, 3))  # a mesh whose vertices have no edge
    faces.append(torch.zeros(0, 3, dtype=torch.int64))
    mesh = Meshes(verts, faces)
    L = mesh.laplacian_packed()
    assert L.is_sparse
    want = ref.uniform_laplacian(mesh.verts_packed().shape[0], ref.unique_edges(mesh.faces_packed()))
    torch.testing.assert_close(L.to_dense(), want)


def test_bounding_boxes_match_loop():
    verts, faces = hetero_batch()
    boxes = Meshes(verts, faces).get_bounding_boxes()
    for box, v in zip(boxes, verts):
        if v.shape[0]:
            torch.testing.assert_close(box, torch.stack([v.min(0).values, v.max(0).values], 1))
        else:
            assert torch.equal(box, torch.zeros(3, 2))


# ------------------------------------------------------------------------------------------------
# moving vertices


def test_offset_and_scale_verts():
    verts, faces = hetero_batch()
    mesh = Meshes(verts, faces)
    mesh.verts_padded(), mesh.faces_normals_packed()  # cached views must follow
    offsets = torch.randn_like(mesh.verts_packed())
    moved = mesh.offset_verts(offsets)
    check_views(moved, [v + o for v, o in zip(verts, offsets.split([v.shape[0] for v in verts]))], faces)
    check_views(mesh, verts, faces)  # out of place
    areas, normals = ref.face_areas_normals(moved.verts_packed(), moved.faces_packed())
    torch.testing.assert_close(moved.faces_normals_packed(), normals)
    shift = torch.tensor([1.0, 2.0, 3.0])
    check_views(mesh.offset_verts(shift), [v + shift for v in verts], faces)
    check_views(mesh.scale_verts(2.0), [2 * v for v in verts], faces)
    scales = torch.tensor([1.0, 2.0, 3.0, 4.0])
    scaled = mesh.scale_verts(scales)
    check_views(scaled, [s * v for s, v in zip(scales, verts)], faces)
    torch.testing.assert_close(scaled.faces_areas_packed(), ref.face_areas_normals(scaled.verts_packed(), scaled.faces_packed())[0])
    assert mesh.offset_verts_(offsets) is mesh
    with pytest.raises(ValueError, match="offsets"):
        mesh.offset_verts(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="scale"):
        mesh.scale_verts(torch.ones(3))


def test_update_padded_keeps_topology_and_moves_verts():
    verts, faces = hetero_batch()
    mesh = Meshes(verts, faces)
    edges = mesh.edges_packed()
    new_padded = mesh.verts_padded() * 3 + 1  # the padding rows (now 1) are ignored
    new = mesh.update_padded(new_padded)
    assert new.edges_packed() is edges and new.verts_padded() is new_padded
    torch.testing.assert_close(new.verts_packed(), torch.cat([3 * v + 1 for v in verts]))
    check_views(mesh.update_padded(mesh.verts_padded() * 3), [3 * v for v in verts], faces)
    check_views(mesh, verts, faces)
    with pytest.raises(ValueError, match="shape"):
        mesh.update_padded(torch.zeros(4, 2, 3))


def test_gradients_flow_through_views_and_updates():
    verts, faces = hetero_batch()
    verts = [v.requires_grad_(True) for v in verts]
    mesh = Meshes(verts, faces)
    deform = torch.zeros_like(mesh.verts_packed(), requires_grad=True)
    moved = mesh.offset_verts(deform)
    (moved.verts_padded().sum() + moved.verts_normals_packed().sum()).backward()
    assert deform.grad is not None and all(v.grad is not None for v in verts if v.shape[0])
    padded = mesh.verts_padded().detach().requires_grad_(True)
    mesh.update_padded(padded).verts_packed().sum().backward()
    # rows past each mesh's size are padding and get no gradient
    mask = torch.arange(padded.shape[1])[None] < mesh.num_verts_per_mesh()[:, None]
    torch.testing.assert_close(padded.grad, mask[..., None].expand_as(padded).float())


# ------------------------------------------------------------------------------------------------
# batch operations


def test_indexing():
    verts, faces = hetero_batch()
    mesh = Meshes(verts, faces)
    for index, ids in (
        (1, [1]),
        (-1, [3]),
        (slice(1, 3), [1, 2]),
        ([3, 0], [3, 0]),
        (torch.tensor([True, False, False, True]), [0, 3]),
        (torch.tensor([2, 1]), [2, 1]),
    ):
        sub = mesh[index]
        check_views(sub, [verts[i] for i in ids], [faces[i] for i in ids])
    assert mesh[0].verts_list()[0] is verts[0]  # shared, not copied
    for bad in (4, -5, [0, 7], torch.tensor([0.5]), "a", torch.tensor([True])):
        with pytest.raises(IndexError):
            mesh[bad]
    assert [len(m) for m in mesh.split([1, 3])] == [1, 3]
    v, f = mesh.get_mesh_verts_faces(1)
    assert v is verts[1] and torch.equal(f, faces[1])
    with pytest.raises(ValueError):
        mesh.get_mesh_verts_faces(4)
    assert len([m for m in mesh]) == 4
    import numpy as np

    check_views(mesh[np.int64(3)], [verts[3]], [faces[3]])


def test_extend():
    verts, faces = hetero_batch()
    verts[0].requires_grad_(True)
    mesh = Meshes(verts, faces)
    ext = mesh.extend(3)
    check_views(ext, [v for v in verts for _ in range(3)], [f for f in faces for _ in range(3)])
    ext.verts_packed().sum().backward()
    torch.testing.assert_close(verts[0].grad, torch.full_like(verts[0], 3.0))
    with pytest.raises(ValueError):
        mesh.extend(0)
    with pytest.raises(ValueError):
        mesh.extend(2.0)


def test_clone_detach_to_keep_grad_semantics():
    verts, faces = hetero_batch()
    verts = [v.requires_grad_(True) for v in verts]
    mesh = Meshes(verts, faces)
    mesh.verts_packed(), mesh.verts_padded(), mesh.edges_packed()
    cloned = mesh.clone()
    assert cloned.verts_packed().data_ptr() != mesh.verts_packed().data_ptr()
    assert cloned.verts_packed().requires_grad and cloned.verts_packed().grad_fn is not None
    check_views(cloned, verts, faces)
    cloned.verts_padded().sum().backward()
    assert verts[0].grad is not None
    detached = mesh.detach()
    assert not detached.verts_packed().requires_grad and not detached.verts_list()[0].requires_grad
    assert detached.verts_packed().data_ptr() == mesh.verts_packed().data_ptr()
    check_views(detached, verts, faces)
    assert mesh.to("cpu") is mesh and mesh.cpu() is mesh
    copied = mesh.to("cpu", copy=True)
    assert copied is not mesh and copied.verts_packed().data_ptr() != mesh.verts_packed().data_ptr()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_to_cuda_and_back():
    verts, faces = hetero_batch()
    mesh = Meshes(verts, faces)
    mesh.edges_packed()
    gpu = mesh.cuda()
    assert gpu.device.type == "cuda" and gpu.edges_packed().device.type == "cuda"
    check_views(gpu, verts, faces)
    check_views(gpu.cpu(), verts, faces)


def test_join_as_batch_and_scene():
    verts, faces = hetero_batch()
    a, b = Meshes(verts[:2], faces[:2]), Meshes(verts[2:], faces[2:])
    check_views(join_meshes_as_batch([a, b]), verts, faces)
    scene = join_meshes_as_scene([a, b])
    assert len(scene) == 1
    torch.testing.assert_close(scene.verts_packed(), torch.cat(verts))
    assert scene.faces_packed().tolist() == ref.faces_packed(verts, faces).tolist()
    check_views(scene, [torch.cat(verts)], [ref.faces_packed(verts, faces)])
    assert join_meshes_as_scene(a[0]).verts_packed() is a[0].verts_packed() or len(join_meshes_as_scene(a[0])) == 1
    with pytest.raises(ValueError):
        join_meshes_as_batch(a)
    with pytest.raises(ValueError):
        join_meshes_as_scene(a, b)


def test_given_vertex_normals():
    verts, faces = cube()
    given = torch.nn.functional.normalize(torch.randn(8, 3), dim=1)
    mesh = Meshes([verts], [faces], verts_normals=[given])
    assert mesh.has_verts_normals()
    assert torch.equal(mesh.verts_normals_packed(), given)
    assert torch.equal(Meshes(verts[None], faces[None], verts_normals=given[None]).verts_normals_packed(), given)
    assert torch.equal(mesh[0].verts_normals_packed(), given)
    assert torch.equal(mesh.offset_verts(torch.ones(3)).verts_normals_packed(), given)  # a global shift keeps them
    moved = mesh.offset_verts(torch.zeros(8, 3))  # per-vertex offsets recompute them
    torch.testing.assert_close(moved.verts_normals_packed(), ref.vertex_normals(verts, faces))
    with pytest.raises(ValueError, match="verts_normals"):
        Meshes([verts], [faces], verts_normals=[torch.zeros(7, 3)])


# ------------------------------------------------------------------------------------------------
# textures


class FakeTextures:
    """Duck-typed texture recording how Meshes uses it."""

    def __init__(self, tag):
        self.tag = tag

    def sample_textures(self, fragments, faces_packed=None):
        return ("sampled", self.tag, faces_packed)

    def __getitem__(self, index):
        return FakeTextures((self.tag, "index", index))

    def extend(self, n):
        return FakeTextures((self.tag, "extend", n))

    def clone(self):
        return FakeTextures((self.tag, "clone"))

    def detach(self):
        return FakeTextures((self.tag, "detach"))

    def to(self, device):
        return FakeTextures((self.tag, "to"))

    def join_batch(self, others):
        return FakeTextures((self.tag, "join", tuple(o.tag for o in others)))

    def join_scene(self):
        return FakeTextures((self.tag, "scene"))


def test_textures_travel_with_meshes():
    verts, faces = hetero_batch()
    tex = FakeTextures("t")
    mesh = Meshes(verts, faces, textures=tex)
    assert tex._num_verts_per_mesh == [5, 8, 0, 4] and tex._num_faces_per_mesh == [4, 10, 0, 2]
    assert tex.valid.tolist() == [True, True, False, True]
    assert mesh[1].textures.tag == ("t", "index", 1) and mesh[-1].textures.tag == ("t", "index", 3)
    assert mesh[[-1]].textures.tag == ("t", "index", [3])
    assert mesh[[0, 3]].textures._num_verts_per_mesh == [5, 4]
    assert mesh.extend(2).textures.tag == ("t", "extend", 2)
    assert mesh.clone().textures.tag == ("t", "clone")
    assert mesh.detach().textures.tag == ("t", "detach")
    assert mesh.offset_verts(torch.zeros(3)).textures.tag == ("t", "clone")
    assert mesh.update_padded(mesh.verts_padded()).textures is tex
    other = Meshes(verts[:1], faces[:1], textures=FakeTextures("u"))
    assert join_meshes_as_batch([mesh, other]).textures.tag == ("t", "join", ("u",))
    assert join_meshes_as_batch([mesh, other], include_textures=False).textures is None
    assert join_meshes_as_scene(mesh).textures.tag == ("t", "scene")
    assert mesh.sample_textures(None)[2] is mesh.faces_packed()
    with pytest.raises(ValueError, match="textures"):
        join_meshes_as_batch([mesh, Meshes(verts[:1], faces[:1])])
    with pytest.raises(ValueError, match="textures"):
        Meshes(verts, faces, textures=torch.zeros(3))
    plain = Meshes(verts, faces)
    plain.textures = FakeTextures("late")  # assigning later also tells the textures the sizes
    assert plain.textures._num_faces_per_mesh == [4, 10, 0, 2]


def test_textures_vertex_travel_with_meshes():
    textures = pytest.importorskip("inverse3d.renderer.mesh.textures")
    verts, faces = hetero_batch()
    colours = [torch.rand(v.shape[0], 3) for v in verts]
    mesh = Meshes(verts, faces, textures=textures.TexturesVertex(verts_features=colours))
    sub = mesh[[3, 1]]
    assert all(torch.equal(a, b) for a, b in zip(sub.textures.verts_features_list(), [colours[3], colours[1]]))
    ext = mesh[0].extend(2)
    assert ext.textures.verts_features_packed().shape == (10, 3)
    batch = join_meshes_as_batch([mesh[:2], mesh[2:]])
    torch.testing.assert_close(batch.textures.verts_features_packed(), torch.cat(colours))
    scene = join_meshes_as_scene(mesh)
    torch.testing.assert_close(scene.textures.verts_features_packed(), torch.cat(colours))
    assert mesh.clone().textures.verts_features_packed().data_ptr() != mesh.textures.verts_features_packed().data_ptr()


def test_textures_uv_travel_with_meshes():
    textures = pytest.importorskip("inverse3d.renderer.mesh.textures")
    verts, faces = hetero_batch()
    uvs = [torch.rand(v.shape[0], 2) for v in verts]
    maps = [torch.rand(4, 4, 3) for _ in verts]
    mesh = Meshes(verts, faces, textures=textures.TexturesUV(maps=maps, faces_uvs=faces, verts_uvs=uvs))
    sub = mesh[[3, 0]]
    assert [tuple(f.shape) for f in sub.textures.faces_uvs_list()] == [(2, 3), (4, 3)]
    assert len(mesh.extend(2).textures.verts_uvs_list()) == 8
    assert len(join_meshes_as_batch([mesh[:1], mesh[3:]]).textures.verts_uvs_list()) == 2


def test_submeshes():
    textures = pytest.importorskip("inverse3d.renderer.mesh.textures")
    verts, faces = cube()
    colours = torch.rand(8, 3)
    mesh = Meshes([verts, verts + 1], [faces, faces], textures=textures.TexturesVertex([colours, colours]))
    sub = mesh.submeshes([[torch.tensor([0, 1]), torch.tensor([2])], [torch.arange(12)]])
    assert len(sub) == 3 and sub.num_faces_per_mesh().tolist() == [2, 1, 12]
    assert sub.num_verts_per_mesh().tolist() == [4, 3, 8]
    torch.testing.assert_close(sub.verts_list()[0], verts[[0, 1, 2, 3]])
    torch.testing.assert_close(sub.verts_packed()[sub.faces_packed()][:2], verts[faces[:2]])
    torch.testing.assert_close(sub.textures.verts_features_list()[1], colours[[4, 6, 7]])


# ------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "verts, faces, match",
    [
        ([torch.rand(3, 3)], [torch.tensor([[0, 1, 3]])], r"faces\[0\].*\[0, 3\)"),
        ([torch.rand(3, 3)], [torch.tensor([[0, -1, 2]])], r"faces\[0\]"),
        ([torch.rand(3, 3), torch.rand(3, 3)], [torch.tensor([[0, 1, 2]])], "2 vertex tensors but 1"),
        ([torch.rand(3, 2)], [torch.tensor([[0, 1, 2]])], r"verts\[0\] has shape"),
        ([torch.rand(3, 3)], [torch.tensor([[0, 1]])], r"faces\[0\] has shape"),
        ([torch.rand(3, 3)], [torch.tensor([[0.0, 1, 2]])], "integer"),
        ([torch.randint(0, 3, (3, 3))], [torch.tensor([[0, 1, 2]])], "floating"),
        ([torch.tensor([[0.0, 0, 0], [1, float("nan"), 0], [0, 1, 0]])], [torch.tensor([[0, 1, 2]])], "NaN"),
        ([torch.tensor([[0.0, 0, 0], [1, float("inf"), 0], [0, 1, 0]])], [torch.tensor([[0, 1, 2]])], "NaN"),
        ([torch.rand(3, 3), torch.rand(3, 3, dtype=torch.float64)], [torch.tensor([[0, 1, 2]])] * 2, "dtype"),
        ([[0.0, 0.0, 0.0]], [torch.tensor([[0, 1, 2]])], "torch.Tensor"),
        (torch.rand(2, 3, 3), torch.tensor([[[0, 1, 3]], [[0, 1, 2]]]), "outside"),
        (torch.rand(2, 3, 3), torch.tensor([[[-1, -1, -1], [0, 1, 2]], [[0, 1, 2], [0, 1, 2]]]), "after"),
        (torch.rand(2, 3, 3), torch.tensor([[[0, 1, 2]]]), "hold 2 meshes"),
        (torch.rand(2, 3, 2), torch.tensor([[[0, 1, 2]]] * 2), "shape"),
        (torch.full((1, 3, 3), float("nan")), torch.tensor([[[0, 1, 2]]]), "NaN"),
        (torch.rand(1, 3, 3), [torch.tensor([[0, 1, 2]])], "both"),
    ],
)
def test_bad_input_raises_clear_errors(verts, faces, match):
    with pytest.raises(ValueError, match=match):
        Meshes(verts, faces)
