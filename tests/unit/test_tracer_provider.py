"""Whether tracing is on is what `install_tracer_provider` last did, and nothing in the codebase
installs a tracer provider another way (so that answer cannot go stale)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.test.globals_test import reset_trace_globals

from adapters.telemetry.provider import install_tracer_provider, installed_provider, tracer
from adapters.telemetry.tracing import span, tracing_enabled, would_record
from tests.unit.installed_tracing import installed

ROOT = Path(__file__).resolve().parents[2]
THE_ONE_PLACE = Path("adapters/telemetry/provider.py")
# OpenTelemetry's setter (imported under any name), its private global, or its env-var choice
OTHER_WAYS = re.compile(r"set_tracer_provider|_TRACER_PROVIDER|OTEL_PYTHON_TRACER_PROVIDER")


def test_installing_and_removing_a_provider_flips_the_check_and_the_spans() -> None:
    install_tracer_provider(None)
    assert not tracing_enabled() and not would_record()
    with span("off") as off:
        assert off is trace.INVALID_SPAN
    with installed(TracerProvider()) as provider:
        assert tracing_enabled() and would_record() and installed_provider() is provider
        with span("on") as on:
            assert on.is_recording()
    assert not tracing_enabled() and not would_record() and installed_provider() is None
    with span("off again", parent="00-" + "1" * 32 + "-" + "2" * 16 + "-01") as carried:
        assert not carried.is_recording()  # a trace carried on, recorded by no one


@given(st.lists(st.booleans(), max_size=8))
def test_the_check_equals_the_old_one_on_opentelemetrys_global(installs: list[bool]) -> None:
    """The old check asked OpenTelemetry for its global provider on every call: tracing was on
    unless it was still the proxy. Installed and removed in any order, the two agree."""
    try:
        for install in installs:
            reset_trace_globals()
            provider = TracerProvider() if install else None
            install_tracer_provider(provider)
            global_provider = trace.get_tracer_provider()
            assert tracing_enabled() is not isinstance(global_provider, trace.ProxyTracerProvider)
            assert (installed_provider() is global_provider) is install
            if provider is not None:
                assert tracer().__class__.__module__.startswith("opentelemetry.sdk")
    finally:
        install_tracer_provider(None)
        reset_trace_globals()


def test_no_code_installs_a_tracer_provider_but_the_one_function() -> None:
    sources = [
        path
        for folder in ("adapters", "commands", "domain", "projections", "gateway", "bench", "tests")
        for path in (ROOT / folder).rglob("*.py")
    ]
    assert len(sources) > 100  # the walk found the codebase
    elsewhere = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        if path.relative_to(ROOT) not in (THE_ONE_PLACE, Path(__file__).relative_to(ROOT))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OTHER_WAYS.search(line)
    ]
    assert elsewhere == []
    assert "trace.set_tracer_provider(provider)" in (ROOT / THE_ONE_PLACE).read_text()
