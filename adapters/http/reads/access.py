"""Who may read what: `read` on the project, and a project-bound caller sees only its project."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from commands.context import Forbidden, Principal

T = TypeVar("T")


def project_filter(principal: Principal, asked: UUID | None, scope: str = "read") -> UUID | None:
    """The project a query must be limited to (None: every project), or Forbidden.

    A caller bound to one project that names another gets 403 whether or not that project
    exists, so the answer reveals nothing; without `project_id` it silently gets its own.
    """
    principal.require(scope, principal.project_id)
    if principal.project_id is None:
        return asked
    if asked is not None and asked != principal.project_id:
        raise Forbidden(f"{principal.name} may only read project {principal.project_id}")
    return principal.project_id


def project_ids(project: UUID | None) -> tuple[UUID, ...] | None:
    """The read models' spelling of a project filter: None is every project."""
    return None if project is None else (project,)


def visible(item: T | None, projects: tuple[UUID, ...] | None) -> T | None:
    """The item if its project is within reach; otherwise None, which answers 404, not 403."""
    if item is None or projects is None:
        return item
    return item if getattr(item, "project_id", None) in projects else None
