"""Update policy and candidate selection."""

from patchwarden.policy.model import Policy, UpdateLevel
from patchwarden.policy.select import TagDecision, choose_tag, format_duration

__all__ = ["Policy", "TagDecision", "UpdateLevel", "choose_tag", "format_duration"]
