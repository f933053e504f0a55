"""A pipeline's `concurrency`: a templated group key and what a new run does to the group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, get_args

import msgspec
from msgspec import Meta

from domain.errors import InvalidValue
from domain.expression_eval import render, template_parts
from domain.expressions import ExpressionError
from domain.limits import CONCURRENCY_GROUP_MAX, GroupTemplate, clean

ConcurrencyPolicy = Literal["queue", "cancel_in_progress"]


class ConcurrencySpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`group` (e.g. `deploy-${{ branch }}`) holds one run at a time; `queue` makes a newer
    run wait its turn, `cancel_in_progress` cancels the older runs of the group."""

    group: Annotated[
        GroupTemplate,
        Meta(
            description="The group's key; may use `${{ branch }}`, `${{ params.x }}`, "
            "`${{ trigger.* }}`."
        ),
    ]
    policy: Annotated[
        ConcurrencyPolicy,
        Meta(
            description="`queue`: one run at a time, in order; `cancel_in_progress`: a new run "
            "cancels the older ones."
        ),
    ] = "queue"

    def check(self, at: str) -> None:
        clean(f"{at}.group", self.group)
        if not self.group.strip() or len(self.group) > CONCURRENCY_GROUP_MAX:
            raise InvalidValue(f"{at}.group", f"1 to {CONCURRENCY_GROUP_MAX} characters")
        if self.policy not in get_args(ConcurrencyPolicy):
            raise InvalidValue(f"{at}.policy", f"one of {', '.join(get_args(ConcurrencyPolicy))}")
        try:
            template_parts(self.group)
        except ExpressionError as error:
            raise InvalidValue(f"{at}.group", f"invalid template {error}") from None

    def group_key(self, context: Mapping[str, object]) -> str:
        """The rendered key; InvalidValue if it comes out blank or too long to keep."""
        key = render(self.group, context).strip()
        if not key or len(key) > CONCURRENCY_GROUP_MAX:
            limit = f"1 to {CONCURRENCY_GROUP_MAX} characters"
            raise InvalidValue("concurrency.group", f"{self.group!r} renders to {key!r}: {limit}")
        return clean("concurrency.group", key)


def check_step_concurrency(spec: ConcurrencySpec | None, at: str) -> None:
    """A step's group: checked as a pipeline's; a step only queues (cancelling another run's
    step in the middle of that run is not supported)."""
    if spec is None:
        return
    spec.check(at)
    if spec.policy != "queue":
        raise InvalidValue(f"{at}.policy", "a step's concurrency group only queues: use 'queue'")
