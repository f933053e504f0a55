"""Seals what the domain marks personal (`domain.personal`) before it reaches the events table.

Whose data a raw webhook body is, is read with the same parser the intake uses, so the body and
the runs it triggers (whose actor is that committer) share one subject: one erasure forgets both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from adapters.store.encoding import NewEvent
from adapters.store.personal import cipher
from adapters.store.personal.key_reads import KeyReads
from adapters.store.personal.keys import Conn, SubjectKeys
from commands.webhook_payloads import DeliveryFacts, UnreadablePayload, github, parse_delivery
from domain.envelope import EventMetadata
from domain.limits import ACTOR_MAX, cut
from domain.personal import ACTOR_FIELDS, PERSONAL_FIELDS


class _Addresses(msgspec.Struct):
    """Only where a delivery's body may name its sender's e-mail: the rest is skipped unbuilt."""

    pusher: Any = None
    user_email: Any = None


_Body = msgspec.json.Decoder(_Addresses)


class Known:
    """What the appends of one batch share, never kept past it."""

    __slots__ = ("keys", "names")

    def __init__(self) -> None:
        self.keys: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, bytes]] = {}
        """The subjects' keys read for the batch, by login and handles asked."""
        self.names: dict[tuple[str, str], str] = {}
        """An actor's name sealed once, by subject and name: a batch of one person's runs
        names them in each run's metadata and trigger. The sealed text says no more than its
        subject id does (whose name it is); each opens to the name, as one sealed apart."""


class Sealer:
    def __init__(self, keys: SubjectKeys) -> None:
        self._keys = keys
        self._reads: KeyReads | None = None
        """Concurrent appends' key reads on the store's pool, sent together."""

    async def seal(
        self,
        conn: Conn,
        events: Sequence[NewEvent],
        metadata: EventMetadata,
        known: Known | None = None,
    ) -> tuple[list[NewEvent], EventMetadata]:
        """`known`, shared by the appends of one batch, holds the keys read for it: a batch of
        one person's runs reads their key once. Never kept past the batch (an erasure in
        another process must be seen by the next one)."""
        if not metadata.personal_actor and not any(e.type in PERSONAL_FIELDS for e in events):
            return list(events), metadata  # nothing personal: most appends (a runner's report)
        known = Known() if known is None else known
        sealed = [await self._event(conn, event, known) for event in events]
        actor = metadata.actor
        if metadata.personal_actor and actor and not cipher.is_sealed(actor):
            subject, key = await self._ensure(conn, actor, {}, known)
            name = known.names.get((subject, actor))
            if name is None:
                name = known.names[subject, actor] = cipher.seal(subject, key, actor)
            sealed = [_seal_actor(event, actor, name) for event in sealed]
            metadata = msgspec.structs.replace(metadata, actor=name)
        return sealed, metadata

    async def _event(self, conn: Conn, event: NewEvent, known: Known) -> NewEvent:
        fields = PERSONAL_FIELDS.get(event.type)
        if not fields or not isinstance(event.data, dict):
            return event
        login, handles = _whose(event.data)
        subject, key = await self._ensure(conn, login, handles, known)
        data = dict(event.data)
        for name in fields:
            value = data.get(name)
            if isinstance(value, str) and value and not cipher.is_sealed(value):
                data[name] = cipher.seal(subject, key, value)
        return msgspec.structs.replace(event, data=data)

    async def _ensure(
        self, conn: Conn, login: str, handles: dict[str, str], known: Known
    ) -> tuple[str, bytes]:
        asked = (login, tuple(sorted(handles.items())))
        if asked not in known.keys:
            known.keys[asked] = await self._keys.ensure(conn, login, handles, self._shared(conn))
        return known.keys[asked]

    def _shared(self, conn: Conn) -> KeyReads | None:
        """The pool's batched reads; None on a connection (its transaction reads alone)."""
        if not isinstance(conn, asyncpg.Pool):
            return None
        if self._reads is None or self._reads.pool is not conn:
            self._reads = KeyReads(conn)
        return self._reads


def _seal_actor(event: NewEvent, actor: str, sealed: str) -> NewEvent:
    paths = ACTOR_FIELDS.get(event.type)
    if not paths or not isinstance(event.data, dict):
        return event
    data = dict(event.data)
    for *parents, name in paths:
        holder = data
        for parent in parents:
            child = holder.get(parent)
            if not isinstance(child, dict):
                break
            holder[parent] = holder = dict(child)
        else:
            if holder.get(name) == actor:
                holder[name] = sealed
    return msgspec.structs.replace(event, data=data)


def _whose(data: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The login a delivery's body belongs to (as the intake names its actor), and its e-mail."""
    kind, payload = str(data.get("source_kind", "")), str(data.get("payload", ""))
    try:
        facts, email = _read(kind, str(data.get("event", "")), payload, data.get("content_type"))
        actor = getattr(facts, "actor", None)
    except UnreadablePayload:
        actor = None
    if not actor or actor == kind:
        # Nobody named: the body is still sealed, under a subject of its own delivery.
        return f"delivery:{data.get('source_id')}:{data.get('delivery_id')}", {}
    handles = {"login": cut(actor, ACTOR_MAX)}
    if email := (_email(payload) if email is _UNREAD else email):
        handles["email"] = email
    return cut(actor, ACTOR_MAX), handles


_UNREAD = object()


def _read(kind: str, event: str, payload: str, content_type: Any) -> tuple[DeliveryFacts, Any]:
    """The delivery's facts, and its e-mail address when the same scan read it (a GitHub push
    sent as JSON: most deliveries), else `_UNREAD`."""
    if github.read_as_push(kind, event, content_type):
        return github.push_and_email(payload)
    return parse_delivery(kind, event, payload, content_type=content_type), _UNREAD


def _email(payload: str) -> str | None:
    try:
        body = _Body.decode(payload)
    except msgspec.DecodeError:
        return None
    pusher = body.pusher
    for value in (isinstance(pusher, dict) and pusher.get("email"), body.user_email):
        if isinstance(value, str) and "@" in value:
            return value
    return None
