"""The overview's reference table, rendered in Python: at 5,000 rows a Jinja loop spends most
of its time in per-value escaping machinery; here each row is one f-string over
``html.escape``d values and a translate-based URL quoting (bench/serve.py measures both)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from markupsafe import Markup

from patchwarden.store.fleet import FleetLine

_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})
_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_QUOTE = str.maketrans({chr(c): f"%{c:02X}" for c in range(128) if chr(c) not in _UNRESERVED})


def quote_part(text: str) -> str:
    """``urllib.parse.quote(text, safe="")``, fast for ASCII."""
    return text.translate(_QUOTE) if text.isascii() else quote(text, safe="")


def short(digest: str | None) -> str:
    return (digest or "").split(":")[-1][:12]


def esc(text: str) -> str:
    """What Jinja's autoescape (markupsafe) writes for ``text``."""
    return text.translate(_ESCAPE)


def fleet_rows(lines: Iterable[FleetLine]) -> Markup:
    rows = []
    for i in lines:
        cand = ""
        if i.candidate_tag or i.candidate_digest:
            cand = f"{esc(i.candidate_tag or '')}@{esc(short(i.candidate_digest))}"
        status = esc(i.status)
        rows.append(
            f'<tr class="{status}"><td><a href="/images/{quote_part(i.key)}">{esc(i.image)}</a>'
            f"</td><td>{esc(i.source)}</td>\n<td>{status}</td><td>{esc(i.current_tag or '')}@"
            f"{esc(short(i.current_digest))}</td>\n<td>{cand}</td><td>{esc(i.update_kind or '')}"
            "</td></tr>"
        )
    return Markup("\n".join(rows))  # noqa: S704 - every value above is escaped
