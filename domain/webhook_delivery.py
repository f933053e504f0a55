"""The WebhookDelivery aggregate: one verified delivery, exactly as received, and its outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from hashlib import sha1
from typing import ClassVar, Literal, get_args
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, InvalidValue
from domain.limits import DELIVERY_ID_MAX, EVENT_KIND_MAX, REASON_MAX
from domain.moments import require_aware
from domain.webhook_source import KINDS

Outcome = Literal["triggered", "updated", "ignored", "failed"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
EVENT_MAX = EVENT_KIND_MAX
# Never recorded: each proves who sent a delivery, and events are kept (and shown) forever.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "x-hub-signature",
        "x-hub-signature-256",
        "x-gitlab-token",
        "webhook-signature",
    }
)
_NAMESPACE = UUID("6d1c2f0e-5b7a-4c39-9f0b-2a8e4d7c1b55")
"""Fixed forever: changing it would give every past delivery a new stream id."""
_NAMESPACE_BYTES = _NAMESPACE.bytes


UNREAD_BODY: Mapping[str, Mapping[str, object]] = {
    "WebhookReceived": {"payload": "", "headers": {}}
}
"""What recording an outcome never reads: the body and headers. A delivery the intake read holds
them empty when primed (`Repository.get_many_to_append`), so that a batch of outcomes does not
fetch and decode kilobytes each again."""


@lru_cache(maxsize=1024)
def delivery_stream_id(source_id: UUID, delivery_id: str) -> UUID:
    """The stream of a source's delivery: the same id for every copy of that delivery.

    `uuid5(_NAMESPACE, f"{source_id}:{delivery_id}")`, written out: uuid5 imports hashlib on
    each call. Kept for the few deliveries in flight: the ingest derives it, the aggregate checks
    it (a redelivery a third time), about 20 us each on this machine."""
    name = f"{source_id}:{delivery_id}".encode()
    return UUID(bytes=sha1(_NAMESPACE_BYTES + name).digest()[:16], version=5)


class WebhookDelivery(Aggregate):
    """Received once from a verified source; processed once into run commands, or not.

    Its stream id is derived from the source and the provider's delivery id, so a redelivery
    lands on the same stream and the event store refuses to record it twice.
    """

    stream_type = "webhook_delivery"

    class Event(Aggregate.Event):
        pass

    class Received(Event, Aggregate.Created):
        event_type: ClassVar[str] = "WebhookReceived"
        source_id: UUID
        project_id: UUID
        source_kind: str
        delivery_id: str
        event: str
        headers: dict[str, str]
        content_type: str
        payload: str
        """The raw body, exactly as received."""

    class Processed(Event):
        event_type: ClassVar[str] = "WebhookDeliveryProcessed"
        outcome: Outcome
        runs: tuple[UUID, ...]
        reason: str

        def apply(self, aggregate: WebhookDelivery) -> None:
            aggregate.outcome = self.outcome
            aggregate.runs = tuple(self.runs)
            aggregate.reason = self.reason

    def __init__(
        self,
        source_id: UUID,
        project_id: UUID,
        source_kind: str,
        delivery_id: str,
        event: str,
        headers: dict[str, str],
        content_type: str,
        payload: str,
    ) -> None:
        # Runs for `Received`, on creation and on every replay: assignments only.
        self.source_id = source_id
        self.project_id = project_id
        self.source_kind = source_kind
        self.delivery_id = delivery_id
        self.event = event
        self.headers = dict(headers)
        self.content_type = content_type
        self.payload = payload
        self.outcome: Outcome | None = None
        self.runs: tuple[UUID, ...] = ()
        self.reason = ""

    @classmethod
    def receive(
        cls,
        *,
        id: UUID,
        source_id: UUID,
        project_id: UUID,
        source_kind: str,
        delivery_id: str,
        event: str,
        headers: Mapping[str, str],
        content_type: str,
        payload: str,
        at: datetime,
    ) -> WebhookDelivery:
        """Record a verified delivery; `id` must be `delivery_stream_id(source_id, delivery_id)`."""
        require_aware(at)
        if source_kind not in KINDS:
            raise InvalidValue("source_kind", f"one of {list(KINDS)}")
        if not 1 <= len(delivery_id) <= DELIVERY_ID_MAX:
            raise InvalidValue("delivery_id", f"1 to {DELIVERY_ID_MAX} characters")
        if id != delivery_stream_id(source_id, delivery_id):
            # Any other id would let a copy of the delivery escape de-duplication.
            raise InvalidValue("id", "must be delivery_stream_id(source_id, delivery_id)")
        if not 1 <= len(event) <= EVENT_MAX:
            raise InvalidValue("event", f"1 to {EVENT_MAX} characters")
        recorded = {name.lower(): value for name, value in headers.items()}
        if leaked := sorted(CREDENTIAL_HEADERS & recorded.keys()):
            raise InvalidValue("headers", f"must not record credentials ({', '.join(leaked)})")
        return cls._create(
            cls.Received,
            id=id,
            timestamp=at,
            source_id=source_id,
            project_id=project_id,
            source_kind=source_kind,
            delivery_id=delivery_id,
            event=event,
            headers=recorded,
            content_type=content_type,
            payload=payload,
        )

    def record_outcome(
        self, *, outcome: str, runs: Sequence[UUID], reason: str, at: datetime
    ) -> None:
        """Record what processing did; repeating the same outcome decides nothing."""
        require_aware(at)
        if outcome not in OUTCOMES:
            raise InvalidValue("outcome", f"one of {list(OUTCOMES)}")
        reason = reason.strip()
        if len(reason) > REASON_MAX:
            raise InvalidValue("reason", f"at most {REASON_MAX} characters")
        runs = tuple(runs)
        if self.outcome is not None:
            if (self.outcome, self.runs, self.reason) == (outcome, runs, reason):
                return
            raise IllegalTransition(
                "webhook delivery", "processed", f"record the outcome {outcome} for"
            )
        self.trigger_event(self.Processed, outcome=outcome, runs=runs, reason=reason, timestamp=at)


WebhookReceived = WebhookDelivery.Received
WebhookDeliveryProcessed = WebhookDelivery.Processed
