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
    with pytest.warns(UserWarning, match="malformed manifest .format -1"):
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


def test_load_sample_refuses_what_torch_save_does_not_write(tmp_path):
    import pickle
    import zipfile

    (tmp_path / "legacy.pt").write_bytes(pickle.dumps({"images": 1}))  # the pre-zip pickle format
    with zipfile.ZipFile(tmp_path / "deflated.pt", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\x00" * 10_000)  # compressed entries could expand without bound
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    for name, message in [("legacy.pt", "not a torch zip archive"), ("deflated.pt", "compressed"),
                          ("list.pt", "holds a list, not a dict")]:
        with pytest.raises(cache.CacheFileError, match=f"{name}: not a cache sample .*{message}") as info:
            cache.load_sample(tmp_path / name)
        assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError):
        cache.load_sample(tmp_path / "none.pt")


@pytest.mark.parametrize("manifest, problem", [
    ([], "a JSON list"),
    ({"format": 1, "params": [], "files": {}, "splits": {}}, "'params' is not an object"),
    ({"format": 1, "params": {}, "files": [], "splits": {}}, "'files' is not an object"),
    ({"format": 1, "params": {}, "files": {"a.pt": "xyz"}, "splits": {}}, "not a sha256 hex digest"),
    ({"format": 1, "params": {}, "files": {"/etc/passwd": "0" * 64}, "splits": {}}, "not a sample file"),
    ({"format": 1, "params": {}, "files": {}, "splits": {"train": [1]}}, "'splits'"),
])
def test_malformed_manifest_is_ignored_with_a_warning(tmp_path, manifest, problem):
    (tmp_path / cache.MANIFEST).write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match=f"malformed manifest .*{problem}"):
        assert cache.read_manifest(tmp_path) is None


def test_check_files_validates_unrecorded_contents(tmp_path):
    cache.save_sample(tmp_path / "a.pt", {"v": torch.tensor([1])})
    cache.save_sample(tmp_path / "b.pt", {"w": torch.tensor([1])})

    def validate(name, sample):
        if "v" not in sample:
            raise cache.CacheFileError(f"{tmp_path / name}: no 'v'")

    with pytest.warns(UserWarning, match="b.pt: no 'v'; regenerating it"):
        todo, good = cache.check_files(tmp_path, ["a.pt", "b.pt"], {}, validate)
    assert todo == ["b.pt"] and list(good) == ["a.pt"]
    (tmp_path / "c.pt").mkdir()
    with pytest.raises(cache.CacheFileError, match="c.pt: a folder where the cache keeps a sample file"):
        cache.check_files(tmp_path, ["c.pt"], {})


def test_atomic_writes_use_temporary_names_unique_per_call(tmp_path, monkeypatch):
    real = os.replace
    sources = []
    monkeypatch.setattr(os, "replace", lambda src, dst: (sources.append(os.fspath(src)), real(src, dst)))
    cache.atomic_write_bytes(tmp_path / "f.bin", b"1")
    cache.atomic_write_bytes(tmp_path / "f.bin", b"2")
    assert len(set(sources)) == 2 and all(f".{os.getpid()}." in s for s in sources)
