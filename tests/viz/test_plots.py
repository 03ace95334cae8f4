"""Plots are written atomically through temporary names unique to the process."""

from __future__ import annotations

import os

import pytest

from inverse3d.viz.plots import plot_f1_curves, plot_loss_curve


def test_plots_are_written_through_unique_temporary_names(tmp_path, monkeypatch):
    real = os.replace
    sources = []

    def record(src, dst):
        sources.append(os.fspath(src))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", record)
    plot_loss_curve(tmp_path / "loss.png", [3.0, 2.0, 1.0])
    plot_loss_curve(tmp_path / "loss.png", [3.0, 2.0, 1.5])
    plot_f1_curves(tmp_path / "f1.png", (0.01, 0.02), {"m": [10.0, 20.0]})
    assert len(sources) == 3 and len(set(sources)) == 3
    assert all(f".{os.getpid()}." in os.path.basename(s) for s in sources)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f1.png", "loss.png"]


def test_a_failed_plot_keeps_the_old_file(tmp_path, monkeypatch):
    path = plot_loss_curve(tmp_path / "loss.png", [3.0, 2.0, 1.0])
    before = path.read_bytes()

    def disk_full(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="disk full"):
        plot_loss_curve(path, [1.0, 2.0, 3.0])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png"]
