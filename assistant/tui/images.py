"""Pictures in the terminal: charts and other image artifacts drawn inline.

Two ways to draw, chosen once before the app starts (`choose_renderer`):
- a terminal graphics protocol (Kitty's, Sixel, iTerm2-style) through `textual-image`, when the
  terminal says it has one. textual-image asks the terminal at import time — a query that cannot
  run once Textual owns stdin, and that costs up to ~0.3 s on a terminal that never answers — so
  it is imported (and asks) only when the environment names a terminal known to draw images
  (kitty, WezTerm, iTerm2, Ghostty, foot, Konsole, mlterm) or `[tui] images = "graphics"`;
- else half blocks: each cell shows two pixels, `▀` with the top pixel as foreground and the
  bottom one as background. Works in any true-colour terminal, needs only Pillow, and is what
  tests and snapshots see.

`o` in the artifact viewer still opens the file with the system's viewer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

if TYPE_CHECKING:
    from assistant.events import Artifact

Mode = Literal["auto", "graphics", "halfblock", "off"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
GRAPHICS_TERMINALS = ("kitty", "wezterm", "iterm", "ghostty", "foot", "konsole", "mlterm")
INLINE_MAX_WIDTH = 64
INLINE_MAX_ROWS = 14

_mode: Mode = "halfblock"


def choose_renderer(setting: Mode = "auto", environ: os._Environ[str] | dict[str, str] | None = None) -> Mode:
    """Decide how images are drawn in this process; call before the app starts (see above)."""
    global _mode
    env = os.environ if environ is None else environ
    if setting == "auto":
        hint = " ".join(env.get(k, "") for k in ("TERM", "TERM_PROGRAM", "LC_TERMINAL")).lower()
        wants = "KITTY_WINDOW_ID" in env or "WEZTERM_PANE" in env or any(t in hint for t in GRAPHICS_TERMINALS)
        setting = "graphics" if wants else "halfblock"
    if setting == "graphics":
        setting = "graphics" if _terminal_draws_images() else "halfblock"
    _mode = setting
    return _mode


def _terminal_draws_images() -> bool:
    """Ask the terminal (through textual-image, at its import) whether it has a graphics protocol."""
    try:
        from textual_image._terminal import TerminalError
    except ImportError:
        return False
    try:
        import textual_image.widget  # noqa: F401  (asks the terminal what it can draw)
        from textual_image.renderable import HalfcellImage, Image, UnicodeImage
    except (TerminalError, OSError):  # no terminal to ask
        return False
    return Image not in (HalfcellImage, UnicodeImage)


def is_image(artifact: Artifact) -> bool:
    return bool(artifact.path) and str(artifact.path).lower().endswith(IMAGE_SUFFIXES)


def inline_image(artifact: Artifact, max_width: int = INLINE_MAX_WIDTH, max_rows: int = INLINE_MAX_ROWS) -> Widget | None:
    """The widget that draws an image artifact in the transcript, or None (not an image, no file,
    images off)."""
    if _mode == "off" or not is_image(artifact):
        return None
    path = Path(str(artifact.path))
    if not path.is_file():
        return None
    if _mode == "graphics":
        from textual_image.widget import Image

        widget = Image(str(path), classes="inline-image -graphics")
        widget.styles.width = max_width
        widget.styles.height = max_rows
        return widget
    return HalfBlockImage(path, max_width=max_width, max_rows=max_rows, classes="inline-image")


class HalfBlockImage(Widget):
    """An image as coloured half blocks, scaled to fit `max_width` cells and `max_rows` rows
    (keeping its aspect ratio); redrawn when its width changes."""

    DEFAULT_CSS = "HalfBlockImage { height: auto; width: auto; }"

    def __init__(self, path: Path, *, max_width: int = INLINE_MAX_WIDTH, max_rows: int = INLINE_MAX_ROWS,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.max_width = max_width
        self.max_rows = max_rows
        self._pixels: Any = None
        self._rows: list[Strip] = []
        self._drawn_for = -1
        self.error: str | None = None

    def _load(self) -> Any:
        if self._pixels is None:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(self.path) as image:
                    self._pixels = image.convert("RGB")
            except (OSError, UnidentifiedImageError) as exc:
                self.error = f"cannot draw {self.path.name}: {exc}"
        return self._pixels

    def cells(self, width: int) -> tuple[int, int]:
        """(columns, rows) the image takes when at most `width` columns are free."""
        image = self._load()
        if image is None:
            return min(width, len(self.error or "")), 1
        columns = max(1, min(width, self.max_width, image.width))
        rows = max(1, round(columns * image.height / image.width / 2))
        if rows > self.max_rows:
            rows = self.max_rows
            columns = max(1, min(columns, round(rows * 2 * image.width / image.height)))
        return columns, rows

    def get_content_width(self, container: Any, viewport: Any) -> int:
        return self.cells(container.width)[0]

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return self.cells(width)[1]

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width or self.max_width
        if self._drawn_for != width:
            self._rows = self._draw(width)
            self._drawn_for = width
        return self._rows[y] if y < len(self._rows) else Strip.blank(width)

    def _draw(self, width: int) -> list[Strip]:
        image = self._load()
        if image is None:
            return [Strip([Segment(self.error or "", Style(italic=True))])]
        columns, rows = self.cells(width)
        scaled = image.resize((columns, rows * 2))
        pixels = scaled.load()
        strips = []
        for row in range(rows):
            segments = []
            for x in range(columns):
                top, bottom = pixels[x, 2 * row], pixels[x, 2 * row + 1]
                segments.append(Segment("▀", Style.from_color(_rgb(top), _rgb(bottom))))
            strips.append(Strip(Segment.simplify(segments), columns))
        return strips


def _rgb(pixel: tuple[int, int, int]) -> Any:
    from rich.color import Color

    return Color.from_rgb(*pixel[:3])
