"""Tables that survive a terminal and a pipe.

One line per row, columns aligned, never wrapped or cut: a reference or a digest is never
split across lines (a terminal that is too narrow wraps the line visually; a pipe keeps it
whole for grep and awk). A long free-text column (a reason) goes under its row, indented,
instead of being wrapped inside a narrow column; on a terminal it is folded at the terminal's
width, piped it stays one line. No box characters, no trailing spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from patchwarden.cli.common import out
from patchwarden.core.text import printable

if TYPE_CHECKING:
    from rich.text import Text


def print_rows(
    headers: Sequence[str],
    rows: Sequence[Sequence[str | Text]],
    notes: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> None:
    """``rows`` of plain strings (made printable here) or styled ``rich.text.Text``;
    ``notes[i]`` (may be empty) is printed under row ``i``."""
    from rich.padding import Padding
    from rich.text import Text

    cells = [[c if isinstance(c, Text) else Text(printable(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, c.cell_len) for w, c in zip(widths, row, strict=True)]
    if title:
        out.print(Text(title, style="bold"))
    out.print(_line([Text(h, style="bold") for h in headers], widths), soft_wrap=True)
    for i, row in enumerate(cells):
        out.print(_line(row, widths), soft_wrap=True)
        note = notes[i] if notes is not None else ""
        if note:
            text = Text(printable(note), style="dim")
            if out.is_terminal:
                out.print(Padding(text, (0, 0, 0, 4), expand=False))
            else:
                out.print(Text("    ") + text, soft_wrap=True)


def _line(cells: Sequence[Text], widths: Sequence[int]) -> Text:
    from rich.text import Text

    line = Text()
    last = len(cells) - 1
    for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
        line.append_text(cell)
        if i < last:
            line.append(" " * (width - cell.cell_len + 2))
    return line
