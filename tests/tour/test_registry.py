"""The tour's page assembly: sections are found in their package and ordered, the choice of sections is checked
before any work, a failing section is reported on the page (escaped: error text may quote input files), and a second
tour into the same folder is refused while one runs.

The whole tour end to end, as the README runs it, is tested in tests/test_readme_commands.py."""

import pytest

from inverse3d.io.outputs import OutputInUseError
from inverse3d.tour import build_tour, registry, sections
from inverse3d.tour.registry import SectionsFailed, TourSection
from inverse3d.viz.report import Section


def test_every_section_module_is_registered_in_page_order():
    names = [s.name for s in sections()]
    assert names == ["triangle", "cube", "textures", "camera", "rgbd", "parametric", "implicit", "sampling",
                     "single_view", "photoreal", "volume", "surfaces", "splatting", "diffrender"]


def test_unknown_or_empty_sections_fail_before_work(tmp_path):
    with pytest.raises(ValueError, match=r"unknown section\(s\) 'nope'.*choose from triangle"):
        build_tour(tmp_path / "t", only=["nope"])
    with pytest.raises(ValueError, match="none given"):
        build_tour(tmp_path / "t", only=[])
    assert not (tmp_path / "t").exists()


def _use(monkeypatch, *builders):
    found = [TourSection(f"s{i}", i, fn) for i, fn in enumerate(builders)]
    monkeypatch.setattr(registry, "sections", lambda: found)


def test_failed_section_is_reported_escaped(tmp_path, monkeypatch):
    def evil(ctx):
        raise ValueError("cow.mtl: bad line <script>alert(1)</script>")

    _use(monkeypatch, evil, lambda ctx: Section("Fine", "ok"))
    with pytest.raises(SectionsFailed, match="1 tour section"):
        build_tour(tmp_path / "t", log=lambda s: None)
    text = (tmp_path / "t" / "index.html").read_text()
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Fine" in text


def test_second_tour_into_the_same_folder_is_refused(tmp_path, monkeypatch):
    _use(monkeypatch, lambda ctx: Section("Fine", "ok"))
    out = tmp_path / "t"
    out.mkdir()
    (out / ".inverse3d.lock").write_text("1 some-other-host\n")  # held by a process on another machine
    with pytest.raises(OutputInUseError, match="in use by PID 1"):
        build_tour(out, log=lambda s: None)
    (out / ".inverse3d.lock").unlink()
    assert build_tour(out, log=lambda s: None).is_file()
    assert not (out / ".inverse3d.lock").exists()


def test_sections_option_help_names_every_section():
    """``inverse3d tour --help`` lists the sections --sections accepts: none forgotten when one is added."""
    import inspect
    import re

    import inverse3d.cli.tour as cli_tour

    source = inspect.getsource(cli_tour.Args)
    doc = source.split("sections: tuple[str, ...]", 1)[1].split('"""')[1]
    listed = re.findall(r"[a-z_]+", doc.split("page order:", 1)[1].split(";", 1)[0])
    assert listed == [s.name for s in sections()]
