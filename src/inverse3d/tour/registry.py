"""The registry of tour sections and the page they make.

A section is a module in ``inverse3d.tour.sections`` that defines::

    NAME = "cube"        # what --sections selects
    ORDER = 20           # its place on the page (ascending)

    def build(ctx: TourContext) -> Section | list[Section]: ...

``sections()`` finds every such module; ``build_tour`` runs the chosen ones in order. A section that fails is
reported on the page with its error (escaped, like every text on the page) instead of hiding the others.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from inverse3d.io.outputs import OutputLock
from inverse3d.viz.report import Section, write_page


@dataclass
class TourContext:
    """What every section needs: where to write, how big, and the user's optional mesh."""

    out_dir: Path
    image_size: int = 192
    n_frames: int = 24
    fps: int = 12
    mesh_path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    quick: bool = False

    def path(self, name: str) -> Path:
        """``out_dir/media/name``, its folder created."""
        media = self.out_dir / "media"
        media.mkdir(parents=True, exist_ok=True)
        return media / name

    def turntable(self, obj, name: str, **kwargs) -> Path:
        """Saves a turntable of ``obj`` as ``media/name`` at the tour's size, frame count and rate."""
        from inverse3d.viz.turntable import save_turntable

        return save_turntable(obj, self.path(name), n_frames=self.n_frames, image_size=self.image_size, fps=self.fps,
                              progress=False, **kwargs)


class SectionsFailed(RuntimeError):
    """Some sections failed; the page was written anyway and says which and why."""


@dataclass(frozen=True)
class TourSection:
    """A registered section: its name (for --sections), its place on the page and the function that builds it."""

    name: str
    order: int
    build: Callable[[TourContext], Section | list[Section]]


def sections() -> list[TourSection]:
    """Every section module under ``inverse3d.tour.sections``, in page order."""
    import inverse3d.tour.sections as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, "build"):
            found.append(TourSection(module.NAME, module.ORDER, module.build))
    return sorted(found, key=lambda s: (s.order, s.name))


def build_tour(
    out_dir: Path,
    image_size: int = 192,
    n_frames: int = 24,
    fps: int = 12,
    mesh_path: Path | None = None,
    device: str = "cpu",
    only: list[str] | None = None,
    quick: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Renders the tour into ``out_dir`` and returns the path of ``index.html``.

    Args:
        only: names of the sections to build (default: all of ``sections()``); an unknown name, or an empty list, is
            a ValueError raised before any work.
        quick: smaller and shorter runs in the sections that train or fit (for tests).
    Raises:
        SectionsFailed: after writing the page, when a section failed (the page says which and why).
    """
    chosen = sections()
    if only is not None:
        names = [s.name for s in chosen]
        unknown = [name for name in only if name not in names]
        if unknown or not only:
            raise ValueError(f"--sections: unknown section(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                             f"choose from {', '.join(names)}")
        chosen = [s for s in chosen if s.name in only]
    ctx = TourContext(Path(out_dir), image_size, n_frames, fps, Path(mesh_path) if mesh_path else None,
                      torch.device(device), quick)
    with OutputLock(ctx.out_dir, is_dir=True):
        return _build(ctx, chosen, log)


def _build(ctx: TourContext, chosen: list[TourSection], log: Callable[[str], None]) -> Path:
    """Runs the chosen sections (a failing one becomes a section saying so) and writes the page."""
    page_sections: list[Section] = []
    failures = 0
    for section in chosen:
        t0 = time.perf_counter()
        log(f"[tour] {section.name} ...")
        try:
            result = section.build(ctx)
            page_sections.extend(result if isinstance(result, list) else [result])
        except Exception as err:  # one broken section must not hide the others
            failures += 1
            page_sections.append(Section(f"{section.name} (failed)", f"This section failed: {type(err).__name__}: {err}"))
            log(traceback.format_exc())
        log(f"[tour] {section.name} done in {time.perf_counter() - t0:.1f} s")
    page = write_page(
        ctx.out_dir / "index.html",
        "inverse3d tour",
        page_sections,
        intro="Everything on this page was rendered by inverse3d in pure PyTorch, from assets its own code makes "
        "(or the mesh you passed with --mesh).",
    )
    if failures:
        raise SectionsFailed(f"{failures} tour section(s) failed; see {page}")
    return page
