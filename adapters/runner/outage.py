"""How a runner lives through its server going away: it keeps retrying, says so once a minute
rather than at every failed call, and gives up after a bound so it does not linger forever."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("adapters.runner.runner")

SAY_EVERY_S = 60.0


class ServerGone(Exception):
    """The API or NATS stayed unreachable past FLOWLEDGER_RUNNER_GIVE_UP_AFTER_S."""


class Outage:
    """Since when the server has been unreachable, if it is; `failed` raises past the bound."""

    def __init__(
        self,
        api_url: str,
        give_up_after_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        say_every_s: float = SAY_EVERY_S,
    ) -> None:
        self.api_url = api_url
        self.give_up_after_s = give_up_after_s
        self._clock = clock
        self._say_every_s = say_every_s
        self._since: float | None = None
        self._said_at = 0.0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, what: str, exc: BaseException) -> None:
        now = self._clock()
        if self._since is None:
            self._since, self._said_at = now, now
            log.warning(
                "cannot reach the server (%s: %s); retrying, and giving up after %gs "
                "(FLOWLEDGER_RUNNER_GIVE_UP_AFTER_S). Is `flowledger up` (or the API at %s) "
                "running?", what, exc, self.give_up_after_s, self.api_url,
            )  # fmt: skip
        elif now - self._said_at >= self._say_every_s:
            self._said_at = now
            log.warning("still cannot reach the server after %.0fs (%s: %s)",
                        now - self._since, what, exc)  # fmt: skip
        if now - self._since >= self.give_up_after_s:
            raise ServerGone(
                f"the server stayed unreachable for {now - self._since:.0f}s "
                f"(last: {what}: {exc}); giving up"
            )

    def recovered(self) -> None:
        if self._since is not None:
            log.warning("the server answers again after %.0fs", self._clock() - self._since)
            self._since = None
