"""Helpers of the serve unit tests: tokens, a pending update, the served app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.testclient import TestClient

from patchwarden.service.process import Service
from patchwarden.store.fleet import PendingUpdate

ADMIN = "admin-token-for-tests-0123456789"
HOOK = "hook-secret-for-tests"


@dataclass
class Served:
    svc: Service
    client: TestClient

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN}"}


def pending(n: int = 1, container: str = "web") -> PendingUpdate:
    return PendingUpdate(
        id=0,
        change_key=f"container:{container}->sha256:{n:064x}",
        fleet_key=f"container:{container}",
        container=container,
        image="127.0.0.1:5000/team/app:1.0",
        from_digest="sha256:" + "a" * 64,
        to_image="127.0.0.1:5000/team/app:1.1",
        to_digest=f"sha256:{n:064x}",
        update_kind="minor",
        state="pending",
        created_at=datetime.now(UTC),
        decided_at=None,
        decided_by=None,
        result=None,
    )
