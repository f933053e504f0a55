"""Erasing a data subject: the erasure on record (who, why), then the subject's key deleted.

Recorded first: if deleting the key fails, the erasure is on record and a retry finishes it;
the other order could forget a person with nothing saying who did it or why.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from commands.ports import DataSubjects
from domain.data_subject import DataSubject, subject_stream_id
from domain.errors import AggregateNotFound
from domain.limits import Keyword, Reason


class EraseDataSubject(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    subject_id: Keyword
    reason: Reason


async def erase_data_subject(
    command: EraseDataSubject, context: CommandContext, deps: Dependencies
) -> CommandResult:
    # Personal data of any project may be under one subject: only an admin of all may erase.
    context.principal.require("admin", None)
    subjects = _subjects(deps)
    stream = subject_stream_id(command.subject_id)
    # 1. Already on record (a retry after the key outlived the append): finish the deletion.
    try:
        erased = await deps.repository.get(DataSubject, stream)
    except AggregateNotFound:
        erased = None
    if erased is not None:
        await subjects.forget(command.subject_id)
        return answer(erased, None)
    # 2. A subject nobody holds a key for is unknown (or long erased).
    if not await subjects.exists(command.subject_id):
        raise AggregateNotFound("data subject", command.subject_id)
    # 3. The erasure on record, then the key deleted.
    subject = DataSubject.erase(
        subject_id=command.subject_id,
        erased_by=context.principal.name,
        reason=command.reason,
        at=context.at,
    )
    saved = await deps.repository.save(subject, metadata=context.metadata())
    await subjects.forget(command.subject_id)
    return answer(subject, saved)


def _subjects(deps: Dependencies) -> DataSubjects:
    if deps.subjects is None:
        raise RuntimeError(
            "erasing a data subject needs the subjects' keys (Dependencies.subjects)"
        )
    return deps.subjects


HANDLERS = {EraseDataSubject: erase_data_subject}
