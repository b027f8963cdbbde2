"""What the sections of ``patchwarden.yaml`` share: the strict base model (unknown keys are
errors, values frozen) and ``Duration`` (``90s``, ``5m``, ``1h``, or a number of seconds)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from patchwarden.core.durations import parse_duration


def duration_value(v: object) -> object:
    """A duration as written (``90s``, ``5m``, a number of seconds) as a ``timedelta``;
    anything else is left for the field's own validation."""
    if isinstance(v, str):
        return parse_duration(v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return timedelta(seconds=v)
    return v


Duration = Annotated[timedelta, BeforeValidator(duration_value)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
