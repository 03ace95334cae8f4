"""The splatting tests' tiny lego scene: ``tests/tasks/conftest.py``'s with 200 points (the Gaussians' start)."""

import pytest

from tests.cli.helpers import tiny_lego as make_tiny_lego


@pytest.fixture(scope="session")
def tiny_lego(tmp_path_factory):
    return make_tiny_lego(tmp_path_factory.mktemp("scenes"), n_points=200)
