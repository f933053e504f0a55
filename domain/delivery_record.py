"""What a subscription and a notification rule both record of one delivery they give up on or
send again: the message, the event it carried, and how its attempts ended."""

from __future__ import annotations

from domain.errors import InvalidValue
from domain.limits import INT32_MAX, INT64_MAX, REASON_MAX, clean, cut

MESSAGE_ID_MAX = 100


def valid_message_id(message_id: str) -> str:
    if not 1 <= len(clean("message_id", message_id)) <= MESSAGE_ID_MAX:
        raise InvalidValue("message_id", f"1 to {MESSAGE_ID_MAX} characters")
    return message_id


def valid_position(position: int) -> int:
    if not 1 <= position <= INT64_MAX:
        raise InvalidValue("event_position", "a positive event position")
    return position


def parked_fields(
    *,
    message_id: str,
    event_position: int,
    attempts: int,
    last_status: int | None,
    last_error: str,
    status_words: str,
) -> dict[str, object]:
    """A parked delivery's event fields, checked; `status_words` names what `last_status` is."""
    if not 1 <= attempts <= INT32_MAX:
        raise InvalidValue("attempts", f"1 to {INT32_MAX}")
    if last_status is not None and not 100 <= last_status <= 599:
        raise InvalidValue("last_status", f"{status_words} from 100 to 599")
    return {
        "message_id": valid_message_id(message_id),
        "event_position": valid_position(event_position),
        "attempts": attempts,
        "last_status": last_status,
        "last_error": cut(last_error.strip(), REASON_MAX),
    }
