import torch
from inverse3d.datasets.builtin import ProceduralShapes
def test_x(tmp_path):
    kw = dict(n_train=4, n_val=1, n_test=2, image_size=32, voxel_res=8, n_points=64, progress=False)
    s = ProceduralShapes(tmp_path/"s", **kw)
    p = ProceduralShapes(tmp_path/"p", workers=2, **kw)
    for i in range(4):
        a, b = s[i], p[i]
        for k in a:
            if isinstance(a[k], torch.Tensor) and not torch.equal(a[k], b[k]):
                print(i, k, (a[k].float()-b[k].float()).abs().max().item(), (a[k]!=b[k]).sum().item())
    assert 0
