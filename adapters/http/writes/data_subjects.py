"""Data subjects (admins only): find a person's subject id, erase the subject.

The lookup sits beside the erasure it serves: it asks the subjects' handles (keyed hashes of an
e-mail address or a login), not a read model, so no clear identifier is ever stored to match.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from adapters.store.personal import reveal
from commands.data_subjects import EraseDataSubject
from domain.limits import Keyword, Name, Reason


class Erasure(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason
    """Why: kept on the `DataSubjectErased` event, with who erased."""


class DataSubjectFound(msgspec.Struct, frozen=True, kw_only=True):
    subject_id: str


class DataSubjectsController(Controller):
    path = "/api/v1/data-subjects"
    tags = ["data subjects"]

    @get("/", operation_id="findDataSubject", responses=answers(200))
    async def find(
        self,
        request: Req,
        email: FromQuery[Name | None] = None,
        login: FromQuery[Name | None] = None,
    ) -> DataSubjectFound:
        """The subject id of the person with this e-mail address (or login), if any is kept."""
        request.user.require("admin", None)
        if (email is None) == (login is None):
            raise ValidationException("give exactly one of email, login")
        kind, value = ("email", email) if email is not None else ("login", login)
        pool = request.app.state.services.store.pool
        found = None
        for keys in reveal.installed():  # this instance's, in production the only one
            if (found := await keys.lookup(pool, kind, value or "")) is not None:
                break
        if found is None:
            raise NotFoundException(f"no data subject with that {kind}")
        return DataSubjectFound(subject_id=found)

    @post(
        "/{subject_id:str}/erase",
        operation_id="eraseDataSubject",
        status_code=202,
        responses=answers(202),
        description="Deletes the subject's key: its personal data reads `[erased]` everywhere.",
    )
    async def erase(
        self, request: Req, subject_id: FromPath[Keyword], data: JSONBody[Erasure]
    ) -> Response[bytes]:
        return await execute(request, EraseDataSubject(subject_id=subject_id, reason=data.reason))
