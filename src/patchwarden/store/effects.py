"""The side-effect ledger: a pushed tag, an updated container, an opened pull request, a
notification is *claimed* here (a row keyed by what it is, e.g. ``push:<repo>:<tag>@<digest>``)
before it is carried out and marked done after, so a retried or re-delivered job never repeats
it. A claim left by a worker that died between claim and done is settled by the caller, who
can look at the real system (does the tag point at the digest?), never by doing it again
blindly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.store.connection import transaction, wrap_error
from patchwarden.store.orm import EffectRow


class Claim(StrEnum):
    NEW = "new"  # this caller carries the effect out
    DONE = "done"  # it happened already
    IN_DOUBT = "in-doubt"  # claimed by someone who never said it was done


@dataclass(frozen=True, slots=True)
class Effect:
    key: str
    kind: str
    state: str
    owner: str
    result: str


class EffectLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, key: str, kind: str, owner: str) -> Claim:
        now = datetime.now(UTC)
        try:
            with Session(self._engine) as s, s.begin():
                s.add(EffectRow(key=key, kind=kind, state="claimed", owner=owner, claimed_at=now))
            return Claim.NEW
        except IntegrityError:
            pass
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "write to") from None
        got = self.get(key)
        return Claim.DONE if got is not None and got.state == "done" else Claim.IN_DOUBT

    def done(self, key: str, result: str = "") -> None:
        stmt = update(EffectRow).where(EffectRow.key == key)
        with transaction(self._engine, "write to") as s:
            s.execute(stmt.values(state="done", done_at=datetime.now(UTC), result=result[:4000]))

    def get(self, key: str) -> Effect | None:
        with transaction(self._engine, "read") as s:
            r = s.get(EffectRow, key)
            return None if r is None else Effect(r.key, r.kind, r.state, r.owner, r.result)

    def once(
        self,
        key: str,
        kind: str,
        owner: str,
        do: Callable[[], str],
        already: Callable[[], bool],
    ) -> tuple[bool, str]:
        """Carry out ``do`` at most once for ``key``; (True, result) when it ran now.

        In doubt (an earlier claim never marked done), ``already()`` asks the real system
        whether the effect happened: if so it is recorded done; if not it is carried out.
        """
        state = self.claim(key, kind, owner)
        if state == Claim.DONE:
            got = self.get(key)
            return False, got.result if got else ""
        if state == Claim.IN_DOUBT and already():
            self.done(key, "found done after an interrupted attempt")
            return False, "found done after an interrupted attempt"
        result = do()
        self.done(key, result)
        return True, result


class OwnedLedger:
    """The ledger as one owner (a job run) uses it: an ``app.effects.EffectGuard``."""

    def __init__(self, ledger: EffectLedger, owner: str) -> None:
        self.ledger = ledger
        self.owner = owner

    def once(
        self, key: str, kind: str, do: Callable[[], str], already: Callable[[], bool]
    ) -> tuple[bool, str]:
        return self.ledger.once(key[:512], kind, self.owner, do, already)
