"""Update policy and candidate selection."""

from patchwarden.core.durations import format_duration
from patchwarden.policy.model import Policy, UpdateLevel
from patchwarden.policy.select import TagDecision, choose_tag

__all__ = ["Policy", "TagDecision", "UpdateLevel", "choose_tag", "format_duration"]
