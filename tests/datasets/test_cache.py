"""The sample cache: stable keys, atomic writes, checksum checks, resumable generation, worker processes."""

import json
import os

import pytest
import torch

from inverse3d.datasets import cache


def test_params_key_is_stable_and_order_free():
    a = cache.params_key({"x": 1, "y": [1, 2], "z": "c"})
    assert a == cache.params_key({"z": "c", "y": [1, 2], "x": 1})
    assert a != cache.params_key({"x": 2, "y": [1, 2], "z": "c"})
    assert len(a) == 16 and int(a, 16) >= 0


def test_save_load_sample_round_trip(tmp_path):
    sample = {"images": torch.arange(12, dtype=torch.uint8).reshape(2, 2, 3), "voxels": torch.ones(2, 2, 2, dtype=torch.bool),
              "id": "chair_train_00000", "fov": torch.tensor(49.1)}
    digest = cache.save_sample(tmp_path / "a.pt", sample)
    assert digest == cache.sha256_file(tmp_path / "a.pt")
    back = cache.load_sample(tmp_path / "a.pt")
    assert back["id"] == sample["id"] and torch.equal(back["images"], sample["images"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]  # no temporary file left behind


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    cache.atomic_write_bytes(path, b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        cache.atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_check_files(tmp_path):
    names = ["a.pt", "b.pt", "c.pt", "d.pt", "e.pt"]
    sums = {n: cache.save_sample(tmp_path / n, {"v": torch.tensor([i])}) for i, n in enumerate(names[:4])}
    (tmp_path / "b.pt").write_bytes(b"tampered")  # checksum mismatch
    unrecorded = dict(sums)
    del unrecorded["c.pt"]  # written by a run that stopped before its manifest: loads, so kept
    (tmp_path / "d.pt").write_bytes(b"half a file")
    del unrecorded["d.pt"]  # unrecorded and unreadable
    with pytest.warns(UserWarning) as record:
        todo, good = cache.check_files(tmp_path, names, unrecorded)
    messages = " ".join(str(w.message) for w in record)
    assert "b.pt" in messages and "checksum" in messages and "d.pt" in messages
    assert sorted(todo) == ["b.pt", "d.pt", "e.pt"]
    assert sorted(good) == ["a.pt", "c.pt"] and good["c.pt"] == sums["c.pt"]


def test_manifest_round_trip_and_bad_manifest(tmp_path):
    assert cache.read_manifest(tmp_path) is None
    manifest = {"format": cache.CACHE_FORMAT, "params": {"a": 1}, "files": {}, "splits": {}}
    cache.write_manifest(tmp_path, manifest)
    assert cache.read_manifest(tmp_path) == manifest
    (tmp_path / cache.MANIFEST).write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable manifest"):
        assert cache.read_manifest(tmp_path) is None
    (tmp_path / cache.MANIFEST).write_text(json.dumps({**manifest, "format": -1}))
    assert cache.read_manifest(tmp_path) is None


def test_folder_lock_is_reentrant_across_calls(tmp_path):
    with cache.folder_lock(tmp_path):
        pass
    with cache.folder_lock(tmp_path):
        assert (tmp_path / ".lock").exists()


def _square(x):
    return x * x


def test_run_jobs_in_process():
    assert sorted(cache.run_jobs(_square, [1, 2, 3], workers=0, progress=False)) == [1, 4, 9]
    assert list(cache.run_jobs(_square, [], workers=2, progress=False)) == []
