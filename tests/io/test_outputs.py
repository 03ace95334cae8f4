"""Output locks and unique temporary files: a second writer is refused while the first lives, a dead one's lock is
taken over, and atomic writes leave nothing behind on failure."""

import os
import socket
import subprocess
import sys

import pytest

from inverse3d.io.outputs import LOCK_NAME, OutputInUseError, OutputLock, atomic_write, temp_path


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_NAME).write_text(f"{sleeper.pid} {socket.gethostname()}\n")
        with pytest.raises(OutputInUseError, match=f"in use by PID {sleeper.pid}"):
            OutputLock(tmp_path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    with OutputLock(tmp_path):  # the holder died: its lock is stale
        assert (tmp_path / LOCK_NAME).read_text().split()[0] == str(os.getpid())
        with OutputLock(tmp_path):  # re-entrant in one process
            pass
        assert (tmp_path / LOCK_NAME).exists()
    assert not (tmp_path / LOCK_NAME).exists()


def test_file_lock_sits_beside_the_file(tmp_path):
    out = tmp_path / "turntable.gif"
    with OutputLock(out):
        assert (tmp_path / ".turntable.gif.lock").is_file()
    assert not (tmp_path / ".turntable.gif.lock").exists()


def test_temp_paths_are_unique_and_atomic_write_cleans_up(tmp_path):
    target = tmp_path / "a.json"
    assert temp_path(target) != temp_path(target)
    assert temp_path(target).parent == tmp_path

    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert list(tmp_path.iterdir()) == []
    atomic_write(target, lambda tmp: tmp.write_text("{}"))
    assert target.read_text() == "{}" and list(tmp_path.iterdir()) == [target]
