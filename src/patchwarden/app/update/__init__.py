"""The ``update`` use case: plan groups of reference moves (:mod:`.plan`), rewrite files, commit
on branches, push and open pull requests (:mod:`.updater`, :mod:`.pr_body`), inside the
configured cron window (:mod:`.window`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwarden.app.exports import lazy_exports

if TYPE_CHECKING:
    from patchwarden.app.update.action import UpdateAction
    from patchwarden.app.update.plan import (
        BRANCH_PREFIX,
        Group,
        Grouping,
        Move,
        commit_message,
        plan_groups,
        verify_pins,
    )
    from patchwarden.app.update.updater import (
        Outcome,
        UpdateOptions,
        Updater,
        registry_facts,
    )
    from patchwarden.app.update.window import Schedule

EXPORTS = {
    "plan": (
        "BRANCH_PREFIX",
        "Group",
        "Grouping",
        "Move",
        "commit_message",
        "plan_groups",
        "verify_pins",
    ),
    "action": ("UpdateAction",),
    "updater": ("Outcome", "UpdateOptions", "Updater", "registry_facts"),
    "window": ("Schedule",),
}
__all__ = [
    "BRANCH_PREFIX",
    "Group",
    "Grouping",
    "Move",
    "Outcome",
    "Schedule",
    "UpdateAction",
    "UpdateOptions",
    "Updater",
    "commit_message",
    "plan_groups",
    "registry_facts",
    "verify_pins",
]
__getattr__ = lazy_exports(__name__, EXPORTS)
