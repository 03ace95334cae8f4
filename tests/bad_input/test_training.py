"""Bad input to ``inverse3d train``, ``eval`` and ``fit`` and hostile files in the dataset cache.

``CASES``: a command line (placeholders in braces are filled in by the fixtures below) and the one-line message it
must stop with, before any work: nothing is created in the working directory (no dataset cache, no output folder).
``CACHE_CASES``: a damaged or foreign cache folder and the warning with which the dataset detects it, regenerates
its own files and leaves the foreign ones alone; nothing is unpickled that could run code.
"""

from __future__ import annotations

import json
import os
import pickle
import shlex
import shutil
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from inverse3d.cli.main import main
from inverse3d.io.outputs import LOCK_NAME, OutputInUseError

TINY_TRAIN = ("--n-train 2 --n-val 1 --n-test 1 --image-size 32 --voxel-res 8 --data-points 64 --batch-size 2 "
              "--n-points 32 --no-progress")

CASES = [
    # train: numbers that cannot work
    ("train --batch-size 0", "--batch-size 0: must be at least 1"),
    ("train --batch-size -3", "--batch-size -3: must be at least 1"),
    ("train --iterations 0", "--iterations 0: must be at least 1"),
    ("train --lr 0", "--lr 0.0: must be a finite number > 0"),
    ("train --lr -0.001", "--lr -0.001: must be a finite number > 0"),
    ("train --lr nan", "--lr nan: must be a finite number > 0"),
    ("train --checkpoint-every 0", "--checkpoint-every 0: must be at least 1"),
    ("train --image-size 100000", "--image-size 100000: must be at most 1024"),
    ("train --voxel-res 1", "--voxel-res 1: must be at least 2"),
    ("train --n-train 0", "--n-train 0: must be at least 1"),
    ("train --n-points 0", "--n-points 0: must be at least 1"),
    ("train --type mesh --ico-level 9", "--ico-level 9: must be at most 6"),
    ("train --type vox --voxel-res 128", "--type vox --voxel-res: model_config describes a vox model of"),
    ("train --type vox_conv --voxel-res 20", "--type vox_conv --voxel-res: model_config voxel_res = 20"),
    ("train --workers -1", "--workers -1: must be at least 0"),
    ("train --w-smooth -1", "--w-smooth -1.0: must be a finite number >= 0"),
    ("train --max-minutes -1", "--max-minutes -1.0: must be a finite number >= 0"),
    ("train --categories lamp", "--categories: unknown category 'lamp'"),
    ("train --categories chair chair", "--categories: a category is named twice"),
    ("train --device tpu", "--device 'tpu': unknown device"),
    ("train --device cuda:99", "--device cuda:99"),
    # train: outputs
    ("train --out-dir ''", "--out-dir: empty path"),
    ("train --out-dir {file}", "is a file, not a folder"),
    ("train --out-dir {file}/run", "lies below"),
    ("train --data-root {file}", "--data-root"),
    ("train --data-root ''", "--data-root: empty path"),
    ("train --out-dir {busy}", "in use by PID"),
    ("train --resume --overwrite", "--resume and --overwrite contradict each other"),
    ("train --resume --out-dir {empty}", "no checkpoint to --resume from"),
    ("train --out-dir {trained}", "a checkpoint exists already; continue it with --resume or replace it with "
                                  "--overwrite"),
    ("train --out-dir {ckpt_folder}", "a folder where the checkpoint goes"),
    # eval
    ("eval --checkpoint {ckpt} --thresholds 0", "--thresholds 0.0: every threshold must be a finite number > 0"),
    ("eval --checkpoint {ckpt} --thresholds 0.01 -0.02", "--thresholds -0.02: every threshold must be"),
    ("eval --checkpoint {ckpt} --thresholds nan", "--thresholds nan: every threshold must be"),
    ("eval --checkpoint {ckpt} --thresholds 0.01 0.01", "--thresholds: a threshold is given twice"),
    ("eval --checkpoint {empty}", "is a folder, not a checkpoint file (--checkpoint"),
    ("eval --checkpoint missing.pt", "missing.pt: no such checkpoint (--checkpoint)"),
    ("eval --checkpoint ''", "--checkpoint: empty path"),
    ("eval --checkpoint {ckpt} --data-root ''", "--data-root: empty path"),
    ("eval --checkpoint {ckpt} --out-dir ''", "--out-dir: empty path"),
    ("eval --checkpoint {ckpt} --out-dir {file}", "is a file, not a folder"),
    ("eval --checkpoint {ckpt} --out-dir {busy}", "in use by PID"),
    ("eval --checkpoint {ckpt} --batch-size 0", "--batch-size 0: must be at least 1"),
    ("eval --checkpoint {ckpt} --max-shapes 0", "--max-shapes 0: must be at least 1"),
    ("eval --checkpoint {ckpt} --n-eval-points 0", "--n-eval-points 0: must be at least 1"),
    ("eval --checkpoint {ckpt} --render-size 100000", "--render-size 100000: must be at most 2048"),
    ("eval --checkpoint {ckpt} --split dev", "--split 'dev': choose train, val or test"),
    ("eval --checkpoint {ckpt} --device tpu", "--device 'tpu': unknown device"),
    ("eval --checkpoint {crafted}", "1000000"),
    # fit
    ("fit mesh --steps 0", "--steps 0: must be at least 1"),
    ("fit mesh --lr 0", "--lr 0.0: must be a finite number > 0"),
    ("fit mesh --w-edge -1", "--w-edge -1.0: must be a finite number >= 0"),
    ("fit mesh --w-normal nan", "--w-normal nan: must be a finite number >= 0"),
    ("fit mesh --ico-level 7", "--ico-level 7: must be at most 6"),
    ("fit point --n-points 0", "--n-points 0: must be at least 1"),
    ("fit vox --voxel-res 100000", "--voxel-res 100000: must be at most 128"),
    ("fit --image-size 100000", "--image-size 100000: must be at most 2048"),
    ("fit --steps 100000 --frame-every 1", "more than 1000; raise --frame-every"),
    ("fit --category lamp", "--category 'lamp': unknown category"),
    ("fit --mesh missing.obj", "missing.obj: no such mesh file (--mesh)"),
    ("fit --mesh {empty}", "is a folder, not a mesh file (--mesh)"),
    ("fit --mesh ''", "--mesh: empty path"),
    ("fit --out-dir ''", "--out-dir: empty path"),
    ("fit --out-dir {busy}", "in use by PID"),
    ("fit --device tpu", "--device 'tpu': unknown device"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A point model trained for one step on a tiny dataset: its out-dir."""
    root = tmp_path_factory.mktemp("trained")
    argv = shlex.split(f"train --type point --iterations 1 {TINY_TRAIN} --out-dir {root / 'run'} "
                       f"--data-root {root / 'data'}")
    assert main(argv) == 0
    return root / "run"


@pytest.fixture(scope="module")
def crafted(trained, tmp_path_factory) -> Path:
    """The trained checkpoint with a stored training configuration asking for 10^6-pixel images."""
    from inverse3d.training.checkpoint import save_checkpoint

    ckpt = torch.load(trained / "checkpoint.pt", weights_only=True)
    ckpt["train_config"]["image_size"] = 1000000
    return save_checkpoint(tmp_path_factory.mktemp("crafted") / "checkpoint.pt", ckpt)


def _busy(folder: Path) -> Path:
    """A folder whose output lock is held by another live process (this test's parent)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(f"{os.getppid()} {socket.gethostname()}\n")
    return folder


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("command, message", CASES, ids=[c for c, _ in CASES])
def test_bad_command_line(command, message, tmp_path, monkeypatch, trained, crafted):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file.txt").write_text("not a folder")
    (tmp_path / "empty").mkdir()
    (tmp_path / "ckpt_folder" / "checkpoint.pt").mkdir(parents=True)
    places = dict(file="a_file.txt", empty="empty", busy=_busy(tmp_path / "busy"), trained=trained,
                  ckpt=trained / "checkpoint.pt", ckpt_folder="ckpt_folder", crafted=crafted)
    before = _tree(tmp_path)
    argv = shlex.split(command.format(**places))
    if argv[0] == "train":  # tiny sizes first: the case's own options come later and win
        argv[1:1] = shlex.split(TINY_TRAIN)
    with pytest.raises((ValueError, OSError, OutputInUseError)) as info:
        main(argv)
    text = str(info.value)
    assert message in text
    assert "\n" not in text, "a message a user can act on is one line"
    assert _tree(tmp_path) == before, "the command did work (or created folders) before checking its options"
    assert (trained / "checkpoint.pt").is_file()


def test_busy_lock_of_a_dead_process_is_taken_over(tmp_path, trained):
    """The lock of a process that died does not block the next run (and is removed afterwards)."""
    out = tmp_path / "eval"
    out.mkdir()
    (out / LOCK_NAME).write_text(f"999999999 {socket.gethostname()}\n")
    argv = shlex.split(f"eval --checkpoint {trained / 'checkpoint.pt'} --out-dir {out} --gallery 0 --n-frames 2 "
                       "--render-size 16 --n-eval-points 32 --no-progress --max-shapes 1")
    assert main(argv) == 0
    assert (out / "metrics.json").is_file() and not (out / LOCK_NAME).exists()


# ---------------------------------------------------------------------------------------------------------------
# Hostile files in the dataset cache
# ---------------------------------------------------------------------------------------------------------------

CACHE_ARGS = dict(split="train", n_train=2, n_val=0, n_test=0, image_size=16, voxel_res=4, n_points=16,
                  progress=False)
SHARD = "chair_train_00000.pt"
MARKER = "ran_code.txt"


class _RunsCode:
    """A pickle that runs code when unpickled: it would create MARKER in the working directory."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def _zip_with_pickle(path: Path, payload: bytes, compression: int = zipfile.ZIP_STORED) -> None:
    """A zip laid out like torch.save's, whose data.pkl is ``payload``."""
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")


def _no_manifest(folder: Path) -> None:
    (folder / "manifest.json").unlink()


def _pickle_bomb(folder):
    _no_manifest(folder)
    (folder / SHARD).write_bytes(pickle.dumps(_RunsCode()))


def _torch_zip_bomb(folder):
    _no_manifest(folder)
    _zip_with_pickle(folder / SHARD, pickle.dumps(_RunsCode(), protocol=2))


def _compressed_zip(folder):
    _no_manifest(folder)
    _zip_with_pickle(folder / SHARD, pickle.dumps({"images": 0}, protocol=2), zipfile.ZIP_DEFLATED)


def _foreign_tensors(folder):
    _no_manifest(folder)
    torch.save({"weights": torch.zeros(3)}, folder / SHARD)


def _foreign_list(folder):
    _no_manifest(folder)
    torch.save([torch.zeros(3)], folder / SHARD)


def _wrong_shapes(folder):
    _no_manifest(folder)
    sample = torch.load(folder / SHARD, weights_only=True)
    sample["points"] = sample["points"][:3]
    torch.save(sample, folder / SHARD)


def _random_bytes(folder):
    _no_manifest(folder)
    (folder / SHARD).write_bytes(np.random.default_rng(0).bytes(2000))


def _foreign_files(folder):
    _no_manifest(folder)
    np.savez(folder / "mine.npz", a=np.zeros(3))
    torch.save({"x": torch.ones(2)}, folder / "notes.pt")


def _manifest_text(text):
    def setup(folder):
        (folder / "manifest.json").write_text(text(json.loads((folder / "manifest.json").read_text())))

    return setup


def _checksum_mismatch(folder):
    data = (folder / SHARD).read_bytes()
    (folder / SHARD).write_bytes(data[:-10] + b"0123456789")


CACHE_CASES = [
    ("no manifest; a pickle that runs code, named like a sample", _pickle_bomb, "not a cache sample"),
    ("no manifest; a torch-style zip whose pickle runs code", _torch_zip_bomb, "not a cache sample (UnpicklingError"),
    ("no manifest; a zip with compressed entries", _compressed_zip, "not a cache sample (compressed"),
    ("no manifest; a torch file of foreign tensors", _foreign_tensors, "not a sample of this dataset (no "),
    ("no manifest; a torch file holding a list", _foreign_list, "not a cache sample (holds a list"),
    ("no manifest; a sample of other shapes", _wrong_shapes, "'points' is torch.float32 (3, 3), expected"),
    ("no manifest; random bytes named like a sample", _random_bytes, "not a cache sample (not a torch zip archive"),
    ("no manifest; foreign .npz and .pt files", _foreign_files, "(mine.npz, notes.pt); they are left alone"),
    ("manifest that is not JSON", _manifest_text(lambda m: "{not json"), "unreadable manifest"),
    ("manifest that is a JSON list", _manifest_text(lambda m: "[1, 2]"), "malformed manifest (a JSON list"),
    ("manifest whose files entry is a string", _manifest_text(lambda m: json.dumps({**m, "files": "abc"})),
     "malformed manifest ('files' is not an object)"),
    ("manifest with a checksum that is not sha256",
     _manifest_text(lambda m: json.dumps({**m, "files": {SHARD: 5}})), "not a sha256 hex digest"),
    ("manifest naming a file outside the folder",
     _manifest_text(lambda m: json.dumps({**m, "files": {"../x.pt": "0" * 64}})), "not a sample file of the folder"),
    ("manifest whose splits entry is a number", _manifest_text(lambda m: json.dumps({**m, "splits": 3})),
     "'splits' is not an object"),
    ("a sample whose bytes changed", _checksum_mismatch, "checksum mismatch"),
]


@pytest.fixture(scope="module")
def cache_template(tmp_path_factory) -> Path:
    from inverse3d.datasets.builtin import ProceduralShapes

    root = tmp_path_factory.mktemp("cache")
    ProceduralShapes(root, **CACHE_ARGS)
    return root


@pytest.mark.parametrize("description, setup, message", CACHE_CASES, ids=[c[0] for c in CACHE_CASES])
def test_hostile_cache_is_detected_and_regenerated(description, setup, message, cache_template, tmp_path,
                                                   monkeypatch):
    from inverse3d.datasets.builtin import ProceduralShapes

    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data"
    shutil.copytree(cache_template, root)
    reference = ProceduralShapes(root, **CACHE_ARGS)
    folder = reference.folder
    expected = {k: v for k, v in reference[0].items() if torch.is_tensor(v)}
    setup(folder)
    foreign = {p.name: p.read_bytes() for p in folder.iterdir() if p.name not in reference.manifest["files"]
               and p.name != "manifest.json" and not p.name.startswith(".")}
    with pytest.warns(UserWarning) as record:
        dataset = ProceduralShapes(root, **CACHE_ARGS)
    messages = [str(w.message) for w in record]
    assert any(message in m for m in messages), messages
    assert all("\n" not in m for m in messages)
    assert not (tmp_path / MARKER).exists(), "a file of the cache ran code"
    for i in range(len(dataset)):
        item = dataset[i]
        assert item["id"] == dataset.ids[i]
    for key, value in expected.items():
        assert torch.equal(dataset[0][key], value), key
    assert sorted(json.loads((folder / "manifest.json").read_text())["files"]) == [f"{i}.pt" for i in dataset.ids]
    for name, data in foreign.items():  # files the cache does not name are left alone
        assert (folder / name).read_bytes() == data
    # opened again: the cache is whole, nothing to warn about
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ProceduralShapes(root, **CACHE_ARGS)


def test_a_folder_named_like_a_sample_is_an_error(cache_template, tmp_path):
    from inverse3d.datasets.builtin import ProceduralShapes
    from inverse3d.datasets.cache import CacheFileError

    root = tmp_path / "data"
    shutil.copytree(cache_template, root)
    folder = ProceduralShapes(root, **CACHE_ARGS).folder
    (folder / SHARD).unlink()
    (folder / SHARD).mkdir()
    (folder / SHARD / "keep.txt").write_text("mine")
    with pytest.raises(CacheFileError, match="a folder where the cache keeps a sample file"):
        ProceduralShapes(root, **CACHE_ARGS)
    assert (folder / SHARD / "keep.txt").read_text() == "mine"


def test_data_root_that_is_a_file(tmp_path):
    from inverse3d.datasets.builtin import ProceduralShapes

    (tmp_path / "data").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        ProceduralShapes(tmp_path / "data", **CACHE_ARGS)


def test_sample_replaced_after_opening_is_one_line(cache_template, tmp_path):
    from inverse3d.datasets.builtin import ProceduralShapes
    from inverse3d.datasets.cache import CacheFileError

    root = tmp_path / "data"
    shutil.copytree(cache_template, root)
    dataset = ProceduralShapes(root, **CACHE_ARGS)
    torch.save({"x": torch.zeros(1)}, dataset.folder / SHARD)
    with pytest.raises(CacheFileError, match=f"{SHARD}: not a sample of this dataset .*delete the file") as info:
        dataset[0]
    assert "\n" not in str(info.value)
