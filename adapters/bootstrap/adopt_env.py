"""`flowledger secrets adopt-env PIPELINE`: plain `env` values moved into project secrets.

Through the command bus as the console's operator: each value set as a secret, then the
pipeline's next version defined without them (its steps naming the secrets instead). The
events that hold the old values cannot be changed: they are reported, by position.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from adapters.bootstrap.resources import open_resources
from adapters.platform.admin_key import operator
from adapters.platform.embedded import embedded_servers
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from commands.pipelines import DefinePipelineVersion
from commands.secrets import SetSecret
from domain.env_adoption import adopt, credential_keys, plain_values
from domain.pipeline import Pipeline

DEFINING_EVENTS = ("PipelineCreated", "PipelineVersionDefined")


class PlainValue(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    pipeline_version: int
    step: str
    key: str


class Adopted(msgspec.Struct, frozen=True, kw_only=True):
    keys: tuple[str, ...]
    """The env keys now project secrets of the same names (empty: nothing to adopt)."""
    pipeline_version: int | None
    """The version defined without them; None when nothing was adopted."""
    still_plain: tuple[PlainValue, ...]
    """Events that hold a plain value of one of the keys, kept forever as they are."""


async def adopt_env(
    services: Services, pipeline_id: UUID, keys: Collection[str] | None, *, who: str
) -> Adopted:
    pipeline = await services.repository.get(Pipeline, pipeline_id)
    current = pipeline.definition()
    chosen = tuple(sorted(keys)) if keys else credential_keys(current)
    version = None
    if chosen:
        planned = adopt(current, chosen)
        for name, value in sorted(planned.values.items()):
            command = SetSecret(project_id=pipeline.project_id, name=name, value=value)
            await services.bus.dispatch(command, operator(who, at=datetime.now(UTC)))
        define = DefinePipelineVersion(
            pipeline_id=pipeline_id,
            definition=planned.definition,
            expected_version=pipeline.version,
        )
        await services.bus.dispatch(define, operator(who, at=datetime.now(UTC)))
        version = (await services.repository.get(Pipeline, pipeline_id)).current_version
    stored = await services.store.read_stream(str(pipeline_id))
    definitions = [
        ((event.position, event.data["version"]), event.data["definition"])
        for event in stored
        if event.type in DEFINING_EVENTS
    ]
    still = tuple(
        PlainValue(position=ref[0], pipeline_version=ref[1], step=step, key=key)
        for ref, step, key in plain_values(definitions, set(chosen))
    )
    return Adopted(keys=chosen, pipeline_version=version, still_plain=still)


def adopt_env_command(
    settings: Settings, pipeline_id: UUID, keys: Collection[str], *, log: Callable[[str], None]
) -> Adopted:
    async def run(database_url: str) -> Adopted:
        async with open_resources(settings, "command", database_url) as resources:
            who = f"console:{getpass.getuser()}"
            return await adopt_env(resources.services, pipeline_id, keys or None, who=who)

    with embedded_servers(settings, log=log) as urls:
        return asyncio.run(run(urls.database_url))
