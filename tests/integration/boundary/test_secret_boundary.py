"""Setting project secrets with any name, value and environment, through the real API: every
answer is a 2xx whose value is then revealed exactly, or a 4xx problem that wrote nothing and
does not echo the value."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import example, given
from hypothesis import strategies as st

from adapters.secrets import vault
from domain.limits import SECRET_VALUE_MAX
from tests.integration.boundary.conftest import Ledger
from tests.integration.boundary.test_boundary_properties import BOUNDED, sound

NAMES = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,99}", fullmatch=True),
    st.text(min_size=1, max_size=120).filter(lambda t: "/" not in t and t not in (".", "..")),
    st.just("A" * 101),
)
VALUES = st.one_of(
    st.text(min_size=0, max_size=200),
    st.integers(min_value=SECRET_VALUE_MAX - 2, max_value=SECRET_VALUE_MAX + 2).map(
        lambda n: "v" * n
    ),
    st.integers(),
    st.none(),
)
ENVIRONMENTS = st.one_of(
    st.none(), st.text(max_size=70), st.from_regex(r"[a-z]{1,8}", fullmatch=True)
)


@BOUNDED
@given(name=NAMES, value=VALUES, environment=ENVIRONMENTS)
@example(name="0000000{", value="0000000{", environment="")  # found by CI: value = name
async def test_setting_secrets(ledger: Ledger, name: str, value: Any, environment: Any) -> None:
    body: dict[str, Any] = {"value": value}
    if environment is not None:
        body["environment"] = environment
    # json.dumps escapes a NUL and a lone surrogate: valid JSON text, bad data.
    content = json.dumps(body).encode()
    path = f"/api/v1/projects/{ledger.project}/secrets/{quote(name, safe='')}"
    headers = {**ledger.admin, "Content-Type": "application/json"}

    answer = await sound(ledger, lambda: ledger.client.put(path, content=content, headers=headers))

    if answer.status_code < 300:
        revealed = await vault.reveal(ledger.pool, ledger.project, name, environment=environment)
        assert revealed is not None and revealed.value == value
        assert revealed.version == answer.json()["secret_version"]
    elif isinstance(value, str) and len(value) >= 8 and value not in name + path + str(environment):
        # A value that is also (part of) the name is echoed as the name the path gave, not leaked.
        assert value not in answer.text
