"""A pipeline body sent as YAML (`Content-Type: application/yaml`): loaded safely, checked
against the route's body type, and every refusal placed at its line and column."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException

from adapters.http.bodies import JsonRequest
from adapters.http.problems import problem
from adapters.pipeline_code.yaml_text import Loaded, YamlRefused, is_yaml, load_yaml, path_in
from domain.errors import InvalidValue

_LOADED = "flowledger.yaml_body"


def yaml_request(body_type: type) -> type[JsonRequest]:
    """A request class whose body may also be YAML, checked as `body_type`."""

    class YamlRequest(JsonRequest):
        async def json(self) -> Any:
            if not is_yaml(self.headers.get("content-type")):
                return await super().json()
            try:
                loaded = load_yaml(await self.body())
            except YamlRefused as error:
                raise problem(
                    422,
                    "invalid_yaml",
                    "invalid YAML",
                    str(error),
                    **_where(error.line, error.column),
                ) from None
            try:
                msgspec.convert(loaded.data, body_type)
            except msgspec.ValidationError as error:
                field = path_in(str(error))
                raise refused(loaded, field or "", str(error)) from None
            self.scope.setdefault("state", {})[_LOADED] = loaded
            return loaded.data

    return YamlRequest


def loaded_yaml(request: Request[Any, Any, Any]) -> Loaded | None:
    """The YAML the request's body was read from, if it was YAML."""
    return request.scope.get("state", {}).get(_LOADED)


def refused(loaded: Loaded, field: str, detail: str) -> HTTPException:
    """A 422 naming the field and where the YAML wrote it."""
    place = loaded.place(field)
    where = _where(*place) if place else {}
    extra = {"field": field} if field else {}
    return problem(422, "invalid_value", "invalid value", detail, **extra, **where)


def placed(request: Request[Any, Any, Any], error: InvalidValue) -> HTTPException | InvalidValue:
    """A domain refusal of a YAML body, placed in the YAML; else the refusal as it is."""
    loaded = loaded_yaml(request)
    return error if loaded is None else refused(loaded, error.field, str(error))


def _where(line: int | None, column: int | None) -> dict[str, int]:
    return {} if line is None or column is None else {"line": line, "column": column}
