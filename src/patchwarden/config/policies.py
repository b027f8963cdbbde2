"""Turn config rules into the :class:`Policy` that applies to one image.

``defaults`` apply to every image; then every ``images[]`` rule whose ``match`` glob matches the
normalized name (``docker.io/library/node``) or the familiar name (``node``) is applied in file
order, later rules overriding the keys they set. The resulting policy's ``source`` names the rules
so that every ``check`` reason can say which policy decided.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache

from patchwarden.config.schema import Config, PolicyFields
from patchwarden.core.ref import ImageRef
from patchwarden.policy.model import Policy, UpdateLevel

_FIELDS = tuple(PolicyFields.model_fields)


class PolicyResolver:
    def __init__(self, config: Config, config_name: str | None = None) -> None:
        """``config_name``: how policy reasons name the file (default: the file ``config`` was
        read from, e.g. ``-c other.yaml``; ``patchwarden.yaml`` for one built in code)."""
        self._config = config
        source = config._source
        self._name = config_name or (source.name if source is not None else "patchwarden.yaml")
        self._cache: dict[str, Policy] = {}

    def for_image(self, image: ImageRef) -> Policy:
        key = image.name
        policy = self._cache.get(key)
        if policy is None:
            policy = self._cache[key] = self._resolve(image)
        return policy

    def _resolve(self, image: ImageRef) -> Policy:
        merged: dict[str, object] = {}
        sources: list[str] = []
        layers: list[tuple[str, PolicyFields]] = [("defaults", self._config.defaults)]
        for i, rule in enumerate(self._config.images):
            if fnmatchcase(image.name, rule.match) or fnmatchcase(image.familiar_name, rule.match):
                layers.append((f"images[{i}] (match: {rule.match})", rule))
        for label, fields in layers:
            values = {f: getattr(fields, f) for f in _FIELDS if getattr(fields, f) is not None}
            if values:
                merged.update(values)
                sources.append(label)
        source = f"{self._name} " + ", ".join(sources) if sources else "built-in defaults"
        return Policy(
            level=UpdateLevel(str(merged.get("level", "major"))),
            include=_patterns(tuple(merged.get("include") or ())),  # type: ignore[arg-type]
            exclude=_patterns(tuple(merged.get("exclude") or ())),  # type: ignore[arg-type]
            ignore=bool(merged.get("ignore", False)),
            pin_digest=bool(merged.get("pin_digest", False)),
            min_age=merged.get("min_age"),  # type: ignore[arg-type]
            platform=merged.get("platform"),  # type: ignore[arg-type]
            allow_prerelease=bool(merged.get("allow_prerelease", False)),
            require=tuple(merged.get("require") or ()),  # type: ignore[arg-type]
            max_severity=merged.get("max_severity"),  # type: ignore[arg-type]
            source=source,
        )


@lru_cache(maxsize=256)
def _patterns(texts: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(t) for t in texts)
