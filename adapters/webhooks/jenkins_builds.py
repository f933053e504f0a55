"""The intake's question about Jenkins builds, answered from the jenkins_builds view.

A notification may outrun the runner: Jenkins tells of the build it started before the runner,
polling the queue item, learns the number. The runner records the request before it asks
Jenkins, so once the view has caught up with the delivery, a request of the same job still
waiting for its number means "wait": for up to `fold_wait_s`, until the number comes.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import asyncpg

from commands.jenkins_folding import BuildOwner
from projections.jenkins_builds import awaiting_number, build_owner
from projections.reached import reached as views_reached

log = logging.getLogger(__name__)

_POLL_S = 0.1
FOLD_WAIT_S = 30.0


class ViewJenkinsBuilds:
    """Answers the intake's `JenkinsBuilds` port."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        schema: str,
        view: str | None,
        wait_s: float,
        fold_wait_s: float = FOLD_WAIT_S,
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._view = view
        """The view's checkpoint name, to wait on; None: answer at once (tests own the view)."""
        self._wait_s = wait_s
        self._fold_wait_s = fold_wait_s

    async def __call__(
        self, project_id: UUID, job: str, number: int, url: str | None, *, position: int
    ) -> BuildOwner | None:
        loop = asyncio.get_running_loop()
        async with self._pool.acquire() as conn:
            try:
                if self._view is not None:
                    await self._catch_up(conn, position)
                deadline = loop.time() + self._fold_wait_s
                while True:
                    found = await build_owner(conn, self._schema, project_id, job, number, url)
                    if found is not None:
                        return BuildOwner(run_id=found.run_id, step=found.step,
                                          attempt=found.attempt)  # fmt: skip
                    waiting = await awaiting_number(conn, self._schema, project_id, job)
                    if not waiting or loop.time() >= deadline:
                        return None
                    await asyncio.sleep(_POLL_S)
            except asyncpg.UndefinedTableError as error:
                raise ConnectionError(
                    f"the jenkins_builds view is not built yet: {error}"
                ) from error

    async def _catch_up(self, conn: asyncpg.Connection, position: int) -> None:
        deadline = asyncio.get_running_loop().time() + self._wait_s
        while True:
            reached = (await views_reached(conn, [self._view])).get(self._view)
            if reached is not None and reached >= position:
                return
            if asyncio.get_running_loop().time() >= deadline:
                log.warning("the %s view is at %s, behind delivery %d: deciding on what it has",
                            self._view, reached, position)  # fmt: skip
                return
            await asyncio.sleep(_POLL_S)
