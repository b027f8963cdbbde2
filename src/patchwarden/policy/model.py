"""Update policy: how far an image may move, and which tags are acceptable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class UpdateLevel(StrEnum):
    """How big an update is (or may be). Ordered: ``digest < patch < minor < major``.

    Comparisons use that order, not string order; a plain string operand is converted first
    (``UpdateLevel.MAJOR > "minor"``), and an unknown level name raises ``ValueError``.
    """

    DIGEST = "digest"
    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"

    @property
    def rank(self) -> int:
        return type(self)._member_names_.index(self.name)

    def __lt__(self, other: str) -> bool:
        return self.rank < UpdateLevel(other).rank

    def __le__(self, other: str) -> bool:
        return self.rank <= UpdateLevel(other).rank

    def __gt__(self, other: str) -> bool:
        return self.rank > UpdateLevel(other).rank

    def __ge__(self, other: str) -> bool:
        return self.rank >= UpdateLevel(other).rank


@dataclass(frozen=True, slots=True)
class Policy:
    """The policy that applies to one image reference.

    * ``level``: the largest update kind allowed; ``digest`` means never move the tag, only
      follow its digest.
    * ``include``: if any, a candidate tag must match one of them (``re.search`` semantics:
      anchor with ``^...$`` for a whole-tag match). ``exclude``: a candidate matching any of
      them is rejected. Patterns are tested against the tag exactly as the registry lists it.
    * ``ignore``: never propose anything for this image.
    * ``pin_digest``: the caller should add/refresh ``@sha256:...`` on the reference.
    * ``min_age``: a candidate must have been created at least this long ago.
    * ``platform``: ``os/arch[/variant]`` whose manifest the caller should resolve.
    * ``allow_prerelease``: accept pre-release candidates even when the current tag is final.
    * ``require``: vulnerability gates for ``check --vulns``/``update --vulns``:
      ``no-new-critical`` (a candidate may not introduce a critical finding),
      ``fewer-vulnerabilities`` (a candidate must have fewer findings than the current image),
      ``no-new-vulnerabilities`` (a candidate may not introduce any finding).
    * ``max_severity``: a candidate may not carry a finding above this severity.
    * ``source``: where this policy came from, quoted in decision reasons.
    """

    level: UpdateLevel = UpdateLevel.MAJOR
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    ignore: bool = False
    pin_digest: bool = False
    min_age: timedelta | None = None
    platform: str | None = None
    allow_prerelease: bool = False
    require: tuple[str, ...] = ()
    max_severity: str | None = None
    source: str = "default policy"
