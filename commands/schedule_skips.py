"""Recording slots a scheduler decided not to run (see domain/schedule_skip.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from domain.errors import AggregateNotFound
from domain.limits import ScheduleKey
from domain.pipeline import Pipeline
from domain.schedule_skip import SKIPPED_MAX, ScheduleSkip, skip_stream_id


class RecordScheduleSkip(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    schedule: ScheduleKey
    first: datetime
    last: datetime
    count: Annotated[int, Meta(ge=1, le=SKIPPED_MAX)]
    catch_up: Literal["skip", "last"]


async def record_schedule_skip(
    command: RecordScheduleSkip, context: CommandContext, deps: Dependencies
) -> CommandResult:
    pipeline = await deps.repository.get(Pipeline, command.pipeline_id)
    context.principal.require_on("write", pipeline, pipeline.project_id)
    stream = skip_stream_id(command.pipeline_id, command.schedule, command.last)
    try:
        # Another scheduler put the same decision on record: it stands as it is.
        return answer(await deps.repository.get(ScheduleSkip, stream), None)
    except AggregateNotFound:
        pass
    skip = ScheduleSkip.record(
        project_id=pipeline.project_id,
        pipeline_id=pipeline.id,
        schedule=command.schedule,
        first=command.first,
        last=command.last,
        count=command.count,
        catch_up=command.catch_up,
        at=context.at,
    )
    return answer(skip, await deps.repository.save(skip, metadata=context.metadata()))


HANDLERS = {RecordScheduleSkip: record_schedule_skip}
