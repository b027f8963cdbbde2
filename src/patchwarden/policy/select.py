"""Choose the tag an image reference should move to, and say why in one or two sentences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from patchwarden.core.durations import format_duration
from patchwarden.policy.model import Policy, UpdateLevel
from patchwarden.versions.docker_tag import (
    DockerTag,
    Incompatibility,
    incompatibility,
    is_newer,
    parse_tag,
    update_kind,
)

#: How many rejection reasons, and how many example tags per reason, a decision reason lists.
MAX_REASON_GROUPS = 3
MAX_EXAMPLES = 2

CreatedLookup = Callable[[str], datetime | None]


class RejectCode(StrEnum):
    """Why the policy (or a costly check) turned a candidate down. Tags of another flavour are
    turned down with an :class:`~patchwarden.versions.docker_tag.Incompatibility` instead."""

    EXCLUDED = "excluded"
    NOT_INCLUDED = "not-included"
    EXCEEDS_LEVEL = "exceeds-level"
    TOO_YOUNG = "too-young"
    CREATED_UNKNOWN = "created-unknown"
    UNAVAILABLE = "unavailable"  # the ``check`` callback: e.g. not built for the platform


@dataclass(frozen=True, slots=True)
class Rejection:
    """``code`` decides grouping and order; ``text`` is shown (the same for every tag of a
    group); ``detail`` is the tag's own part (``created 2026-10-30``)."""

    code: RejectCode | Incompatibility
    text: str
    detail: str = ""

    @property
    def message(self) -> str:
        return f"{self.text} ({self.detail})" if self.detail else self.text

    @property
    def rank(self) -> int:
        """What the policy decided matters more than tags of another flavour."""
        if isinstance(self.code, RejectCode):
            return 0
        return 1 if self.code == Incompatibility.PRERELEASE else 2


def _incompatible(code: Incompatibility) -> Rejection:
    return Rejection(code, code.value)


@dataclass(frozen=True, slots=True)
class TagDecision:
    """The outcome for one reference.

    ``candidate`` is the tag to move to (``None``: stay). ``update`` is its size (patch, minor or
    major; ``None`` when the tag does not move). ``rejected`` lists the newer (or differently
    versioned) tags that were not chosen, newest first, each with a short stable reason.
    ``follow_digest`` tells the caller to compare the current tag's digest instead (the tag is
    not a version, such as ``latest``, or the policy allows digest updates only).
    """

    candidate: str | None
    update: UpdateLevel | None
    reason: str
    rejected: tuple[tuple[str, str], ...] = ()
    follow_digest: bool = False


def choose_tag(
    current_tag: str | None,
    tags: Sequence[str],
    policy: Policy,
    *,
    created: CreatedLookup | None = None,
    check: Callable[[str], str | None] | None = None,
    now: datetime,
) -> TagDecision:
    """Pick the newest tag in ``tags`` that is compatible with ``current_tag`` and allowed.

    Candidates must be strictly newer, keep the current tag's prefix, suffix, precision and
    version scheme (see :func:`patchwarden.versions.docker_tag.incompatibility`), pass the
    policy's exclude/include patterns and level, and, with ``policy.min_age``, be old enough.
    ``created(tag)`` is only called when ``min_age`` is set, only for otherwise acceptable
    candidates, newest first, stopping at the first old enough one. A ``None`` answer (or no
    ``created`` at all) rejects that candidate as "creation time unknown". Naive datetimes are
    taken as UTC. Errors raised by ``created`` propagate.

    ``check(tag)`` is a last, costly test (e.g. "does this image exist for linux/arm64?"),
    called lazily like ``created``: newest acceptable candidate first, stopping at the first
    that passes; it returns a rejection reason, or None to accept.
    """
    src = policy.source
    if policy.ignore:
        return TagDecision(None, None, f"ignored by policy ({src})")
    if current_tag is None:
        return TagDecision(None, None, "pinned by digest only; no tag to compare")
    if policy.level == UpdateLevel.DIGEST:
        return TagDecision(
            None, None, f"policy allows digest updates only ({src})", follow_digest=True
        )
    current = parse_tag(current_tag)
    if current is None:
        return TagDecision(
            None,
            None,
            f"tag {current_tag} is not a version, so its digest is followed instead ({src})",
            follow_digest=True,
        )

    rejected: list[tuple[DockerTag, Rejection]] = []
    accepted: list[DockerTag] = []
    for text in dict.fromkeys(tags):
        tag = parse_tag(text)
        if tag is None or tag.raw == current.raw:
            continue
        flavour = incompatibility(current, tag, allow_prerelease=policy.allow_prerelease)
        if not is_newer(tag, current):
            if flavour == Incompatibility.SCHEME:
                rejected.append((tag, _incompatible(flavour)))
            continue
        reason = _incompatible(flavour) if flavour else _policy_rejection(current, tag, policy)
        if reason is None:
            accepted.append(tag)
        else:
            rejected.append((tag, reason))

    accepted.sort(reverse=True)
    chosen: DockerTag | None = None
    for tag in accepted:
        late_reason = None
        if policy.min_age is not None:
            late_reason = _age_rejection(tag, policy.min_age, created, now)
        if late_reason is None and check is not None:
            unavailable = check(tag.raw)
            if unavailable is not None:
                late_reason = Rejection(RejectCode.UNAVAILABLE, unavailable)
        if late_reason is None:
            chosen = tag
            break
        rejected.append((tag, late_reason))

    rejected.sort(key=lambda item: item[0], reverse=True)
    rejected_out = tuple((tag.raw, why.message) for tag, why in rejected)
    rules = _describe_policy(policy)
    summary = _summarize(rejected)
    if chosen is None:
        if not rejected:
            text = f"no newer tag than {current_tag}; {rules}"
        else:
            text = f"no newer tag allowed by {rules}; {summary}"
        return TagDecision(None, None, text, rejected_out)
    level = UpdateLevel(update_kind(current, chosen))
    text = f"{chosen.raw} is the newest tag allowed by {rules}: a {level} update from {current_tag}"
    if summary:
        text += f"; {summary}"
    return TagDecision(chosen.raw, level, text, rejected_out)


def _policy_rejection(current: DockerTag, tag: DockerTag, policy: Policy) -> Rejection | None:
    for pattern in policy.exclude:
        if pattern.search(tag.raw):
            return Rejection(RejectCode.EXCLUDED, f"excluded by pattern {pattern.pattern}")
    if policy.include and not any(p.search(tag.raw) for p in policy.include):
        return Rejection(RejectCode.NOT_INCLUDED, "not matched by include pattern")
    if UpdateLevel(update_kind(current, tag)) > policy.level:
        return Rejection(RejectCode.EXCEEDS_LEVEL, f"exceeds policy level {policy.level}")
    return None


def _age_rejection(
    tag: DockerTag, min_age: timedelta, created: CreatedLookup | None, now: datetime
) -> Rejection | None:
    when = created(tag.raw) if created is not None else None
    if when is None:
        return Rejection(RejectCode.CREATED_UNKNOWN, "creation time unknown")
    if _aware(now) - _aware(when) < min_age:
        text = f"younger than min-age {format_duration(min_age)}"
        return Rejection(RejectCode.TOO_YOUNG, text, f"created {when:%Y-%m-%d}")
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _describe_policy(policy: Policy) -> str:
    rules = [f"level={policy.level}"]
    if policy.min_age is not None:
        rules.append(f"min-age={format_duration(policy.min_age)}")
    if policy.allow_prerelease:
        rules.append("pre-releases allowed")
    return f"policy {', '.join(rules)} ({policy.source})"


def _summarize(rejected: list[tuple[DockerTag, Rejection]]) -> str:
    """``5 newer tags rejected: 3 different suffix (e.g. a, b), 2 pre-release (e.g. c)``."""
    if not rejected:
        return ""
    groups: dict[tuple[RejectCode | Incompatibility, str], list[str]] = {}
    for tag, why in rejected:  # newest first, so examples are the newest tags of each group
        groups.setdefault((why.code, why.text), []).append(tag.raw)
    ordered = sorted(groups.items(), key=lambda item: (Rejection(*item[0]).rank, -len(item[1])))
    shown = [
        f"{len(names)} {text} (e.g. {', '.join(names[:MAX_EXAMPLES])})"
        for (_, text), names in ordered[:MAX_REASON_GROUPS]
    ]
    rest = ordered[MAX_REASON_GROUPS:]
    if rest:
        count = sum(len(names) for _, names in rest)
        shown.append(f"{count} more for {len(rest)} other reason{'s' if len(rest) > 1 else ''}")
    noun = "tag" if len(rejected) == 1 else "tags"
    return f"{len(rejected)} newer {noun} rejected: {'; '.join(shown)}"
