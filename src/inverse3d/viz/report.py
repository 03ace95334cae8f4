"""A self-contained HTML page of figures: sections of captioned images (PNG/GIF) and videos (MP4).

Used by ``inverse3d tour`` and by the training/evaluation reports. A figure's path is taken as any path in Python is:
absolute, or relative to the working directory at the time the figure is added. The page links each one relative to
its own folder, so the output folder can be moved or zipped as a whole.

Every string that goes into the page (titles, texts, notes, captions, error messages that may quote input files) is
HTML-escaped; only ``Section.html_blocks`` is inserted as HTML, and it is built by ``html_table``, which escapes too.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from inverse3d.io.outputs import atomic_write

_VIDEO_SUFFIXES = {".mp4", ".webm"}


@dataclass
class Figure:
    """One captioned picture, animation or video; ``path`` is absolute or relative to the working directory (it is
    made absolute here, so a later change of directory does not move it)."""

    path: Path
    caption: str
    title: str = ""
    wide: bool = False  # spans two columns (image grids, side-by-side comparisons)

    def __post_init__(self) -> None:
        self.path = Path(self.path).absolute()


@dataclass
class Section:
    """A titled group of figures, with an optional paragraph of plain text, an optional highlighted note (plain text)
    and optional HTML (tables from ``html_table``) under it."""

    title: str
    text: str = ""
    note: str = ""
    figures: list[Figure] = field(default_factory=list)
    html_blocks: list[str] = field(default_factory=list)

    def add(self, path: Path, caption: str, title: str = "", wide: bool = False) -> Figure:
        fig = Figure(Path(path), caption, title, wide)
        self.figures.append(fig)
        return fig


_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; background: #fafafa; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; background: white; border: 1px solid #ddd; border-radius: 6px; padding: 0.5em; width: 260px; }
figure.wide { width: 538px; }
figure img, figure video { width: 100%; height: auto; display: block; image-rendering: auto; }
figcaption { font-size: 0.85em; margin-top: 0.4em; line-height: 1.3; }
figcaption b { display: block; }
table { border-collapse: collapse; margin: 0.5em 0; background: white; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
.note { display: block; background: #fff7d6; border: 1px solid #e6d27a; padding: 0.5em 0.8em; border-radius: 4px;
        margin: 0.8em 0; line-height: 1.4; }
nav a { margin-right: 1em; }
"""


# After loading, the page counts media that failed to load and says so at the top (and in body[data-media-*],
# which the browser test reads).
_SELF_CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images), vids = Array.from(document.querySelectorAll('video'));
  var pending = vids.length, failed = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  function done() {
    document.body.dataset.mediaTotal = imgs.length + vids.length;
    document.body.dataset.mediaFailed = failed.length;
    if (failed.length) {
      var p = document.createElement('p'); p.className = 'note';
      p.textContent = failed.length + ' figure(s) failed to load: ' + failed.map(function (e) { return e.getAttribute('src'); }).join(', ');
      document.body.insertBefore(p, document.body.firstChild);
    }
  }
  if (!pending) return done();
  vids.forEach(function (v) {
    function settle(ok) { if (!ok) failed.push(v); if (--pending === 0) done(); }
    if (v.readyState >= 2) return settle(true);
    if (v.error) return settle(false);
    v.addEventListener('loadeddata', function () { settle(true); }, { once: true });
    v.addEventListener('error', function () { settle(false); }, { once: true });
  });
});
</script>"""


def _anchor(title: str) -> str:
    return "".join(c.lower() if c.isalnum() else "-" for c in title).strip("-")


def write_page(path: Path, title: str, sections: list[Section], intro: str = "") -> Path:
    """Writes ``path`` (an .html file) with every section's figures; returns the path.

    Raises:
        FileNotFoundError: a figure's file does not exist (a page with a broken image is never written).
    """
    path = Path(path).absolute()
    root = path.parent
    root.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if intro:
        parts.append(f"<p>{html.escape(intro)}</p>")
    parts.append("<nav>" + "".join(f'<a href="#{_anchor(s.title)}">{html.escape(s.title)}</a>' for s in sections) + "</nav>")
    for section in sections:
        parts.append(f'<h2 id="{_anchor(section.title)}">{html.escape(section.title)}</h2>')
        if section.note:
            parts.append(f'<p class="note">{html.escape(section.note)}</p>')
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        parts.extend(section.html_blocks)
        parts.append('<div class="grid">')
        for fig in section.figures:
            media = fig.path
            if not media.is_file():
                raise FileNotFoundError(f"figure for {section.title!r} is missing: {media}")
            rel = Path(os.path.relpath(media, root)).as_posix()
            src = html.escape(rel, quote=True)
            if media.suffix.lower() in _VIDEO_SUFFIXES:
                tag = f'<video src="{src}" autoplay loop muted playsinline controls></video>'
            else:
                tag = f'<img src="{src}" alt="{html.escape(fig.caption, quote=True)}">'
            head = f"<b>{html.escape(fig.title)}</b>" if fig.title else ""
            cls = ' class="wide"' if fig.wide else ""
            parts.append(f"<figure{cls}>{tag}<figcaption>{head}{html.escape(fig.caption)}</figcaption></figure>")
        parts.append("</div>")
    parts.append(_SELF_CHECK)
    parts.append("</body></html>")
    text = "\n".join(parts)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def html_table(header: list[str], rows: list[list[object]], floatfmt: str = ".3f") -> str:
    """A small HTML table; floats are formatted with ``floatfmt``."""

    def cell(v: object) -> str:
        return format(v, floatfmt) if isinstance(v, float) else html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
