"""Text from images, registries and files made safe for a terminal.

Package names, versions, paths, tags and registry messages are attacker-controlled: an escape
sequence in one could retitle the terminal, clear the screen or hide output, and bidi controls
can reorder what a reader sees. Every character that is a control (C0 except newline and tab,
DEL, C1) or a bidi override/isolate is shown as a visible ``\\xNN``/``\\uNNNN`` escape.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _show(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: str) -> str:
    """``text`` with terminal controls made visible; newlines and tabs kept."""
    return _UNSAFE.sub(_show, text) if _UNSAFE.search(text) else text
