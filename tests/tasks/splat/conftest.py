"""A tiny built-in scene shared by the splatting tests (16 x 16 pixels, 4 training views, 2 test views)."""

import pytest


@pytest.fixture(scope="session")
def tiny_lego(tmp_path_factory):
    from inverse3d.datasets.scenes import make_scene

    return make_scene("lego", tmp_path_factory.mktemp("scenes") / "lego16", image_size=16, n_train=4, n_val=1,
                      n_test=2, progress=False, n_points=200)
