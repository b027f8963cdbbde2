"""The immutable tag scheme: ``{version}-{date}.{n}`` by default (docs/commands/rebuild.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from patchwarden.app.rebuild.model import BuildSpec
from patchwarden.core.ref import is_valid_tag
from patchwarden.errors import UsageError

MAX_BUILDS_A_DAY = 10_000


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text).strip(".-") or "0"


def immutable_tag(
    spec: BuildSpec,
    existing: Iterable[str],
    base_digest: str | None,
    revision: str | None,
    now: datetime,
) -> str:
    """The first tag of the scheme, counting ``{n}`` from 1, that the repository lacks."""
    taken = set(existing)
    fields = {
        "version": _clean(spec.version or spec.base.tag or "0"),
        "date": now.strftime("%Y%m%d"),
        "revision": (revision or "norev")[:12],
    }
    for n in range(1, MAX_BUILDS_A_DAY):
        tag = spec.tag_scheme.format(n=n, **fields)
        if tag not in taken:
            if not is_valid_tag(tag):
                raise UsageError(
                    f"tag scheme {spec.tag_scheme!r} gives {tag!r}, which is not a valid tag",
                    "tags are up to 128 of [A-Za-z0-9_.-], not starting with . or -",
                )
            return tag
    raise UsageError(f"{spec.destination}: no free tag left in scheme {spec.tag_scheme!r}")
