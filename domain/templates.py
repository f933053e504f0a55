"""The template language of step fields: `${{ steps.build.outputs.version }}` and friends.

A template is text with references in `${{ ... }}`. A reference is a dotted path, nothing
more: no operators, no calls, no eval. Three roots exist:

- `steps.<step>.outputs.<key>`: an output of a step this one needs (directly or not);
- `params.<name>`: a run parameter the pipeline declares;
- `trigger.<field>`: a fact of what started the run (see TRIGGER_FIELDS).

A reference is checked when a definition is saved (`check_references`) and replaced when a
step's job is made (`render`). A missing value (an output the step never wrote, a trigger
without a sha) renders as the empty string, as in GitHub Actions. Step names may hold dots,
so a step reference is split at its last `.outputs.`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Set

import msgspec

from domain.errors import InvalidValue

TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_PATH = re.compile(r"[A-Za-z0-9_.-]+")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
TRIGGER_FIELDS = frozenset(
    {
        "kind",
        "provider",
        "actor",
        "repository",
        "repository_url",
        "ref",
        "branch",
        "tag",
        "sha",
        "pr_number",
        "base_ref",
        "event",
        "delivery_id",
    }
)
"""The fields `${{ trigger.<field> }}` may name; each is also FLOWLEDGER_TRIGGER_<FIELD>."""


class Reference(msgspec.Struct, frozen=True):
    """One `${{ root.path }}`: root is `steps`, `params` or `trigger`."""

    root: str
    name: str
    """The step, parameter or trigger field."""
    key: str = ""
    """For `steps`: the output key."""


def references(text: str) -> Iterator[tuple[str, Reference]]:
    """Each `${{ ... }}` of `text` as (its source, the Reference); InvalidValue("") if malformed.

    The caller names the field: an error here carries the problem only.
    """
    if "${{" not in text:
        return
    rest = TEMPLATE.sub("", text)
    if "${{" in rest:
        raise InvalidValue("", "a '${{' is never closed with '}}'")
    for match in TEMPLATE.finditer(text):
        yield match.group(0), parse(match.group(1))


def parse(expression: str) -> Reference:
    path = expression.strip()
    if not _PATH.fullmatch(path):
        raise InvalidValue("", f"${{{{ {path} }}}}: a reference is a dotted path, e.g. params.x")
    root, _, rest = path.partition(".")
    if root == "steps":
        step, found, key = rest.rpartition(".outputs.")
        if not (found and step and _NAME.fullmatch(key)):
            raise InvalidValue("", f"${{{{ {path} }}}}: write steps.<step>.outputs.<key>")
        return Reference("steps", step, key)
    if root == "params" and _NAME.fullmatch(rest):
        return Reference("params", rest)
    if root == "trigger":
        if rest not in TRIGGER_FIELDS:
            raise InvalidValue(
                "", f"${{{{ {path} }}}}: trigger fields are {', '.join(sorted(TRIGGER_FIELDS))}"
            )
        return Reference("trigger", rest)
    raise InvalidValue("", f"${{{{ {path} }}}}: start with steps., params. or trigger.")


def check_references(
    text: str, field: str, *, ancestors: Set[str], parameters: Set[str], steps: Set[str]
) -> None:
    """InvalidValue at `field` for the first reference `text` may not make."""
    try:
        found = list(references(text))
    except InvalidValue as error:
        raise InvalidValue(field, error.reason) from None
    for source, ref in found:
        if ref.root == "steps" and ref.name not in ancestors:
            if ref.name not in steps:
                raise InvalidValue(field, f"{source}: no step is named {ref.name!r}")
            raise InvalidValue(
                field, f"{source}: {ref.name!r} is not a step this one needs (add it to needs)"
            )
        if ref.root == "params" and ref.name not in parameters:
            raise InvalidValue(field, f"{source}: the pipeline declares no parameter {ref.name!r}")


def render(text: str, lookup: Callable[[Reference], str | None]) -> str:
    """`text` with each reference replaced by `lookup`'s answer ("" for None); one pass only,
    so a value that itself holds `${{ }}` is never expanded."""
    if "${{" not in text:
        return text
    return TEMPLATE.sub(lambda m: lookup(parse(m.group(1))) or "", text)


def context_lookup(
    outputs: Mapping[str, Mapping[str, str]],
    parameters: Mapping[str, str],
    trigger: Mapping[str, str],
) -> Callable[[Reference], str | None]:
    """A `render` lookup over a run's step outputs, parameters (as text) and trigger facts."""

    def lookup(ref: Reference) -> str | None:
        if ref.root == "steps":
            return outputs.get(ref.name, {}).get(ref.key)
        if ref.root == "params":
            return parameters.get(ref.name)
        return trigger.get(ref.name)

    return lookup


def env_name(text: str) -> str:
    """`text` as an environment variable name part: upper case, anything else `_`."""
    return re.sub(r"[^A-Z0-9_]", "_", text.upper())
