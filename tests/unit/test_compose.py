"""compose.yaml stays runnable: its flowledger commands exist, URLs are set, links resolve."""

from __future__ import annotations

import argparse
import contextlib
import io
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from adapters.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
FLOWLEDGER = {
    name: service
    for name, service in SERVICES.items()
    if "build" in service or (service.get("command") or [None])[0] == "flowledger"
}


def test_it_runs_postgres_nats_and_flowledger_roles() -> None:
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in SERVICES["postgres"]
    assert "-js" in SERVICES["nats"]["command"]
    assert SERVICES["nats"].get("volumes")
    assert {"migrate", "api"} <= set(FLOWLEDGER)


@pytest.mark.parametrize("name", sorted(FLOWLEDGER))
def test_each_role_runs_a_subcommand_the_cli_accepts(name: str) -> None:
    command = SERVICES[name]["command"]
    assert isinstance(command, list) and command[0] == "flowledger", command

    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            args = build_parser().parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"{name}: `{' '.join(command)}` is not a valid command: {err.getvalue()}")
    assert isinstance(args, argparse.Namespace)


# Runners reach the system through the API and NATS only: they are given no database.
WITHOUT_DATABASE = {"runner"}


@pytest.mark.parametrize("name", sorted(FLOWLEDGER))
def test_each_role_is_given_the_server_urls(name: str) -> None:
    env = SERVICES[name].get("environment") or {}
    database, nats = env.get("FLOWLEDGER_DATABASE_URL"), env.get("FLOWLEDGER_NATS_URL")
    assert nats, f"{name} would start an embedded NATS instead"
    assert all(urlsplit(url).hostname in SERVICES for url in nats.split(","))
    if name in WITHOUT_DATABASE:
        assert database is None, f"{name} must not reach the database"
        assert urlsplit(env["FLOWLEDGER_API_URL"]).hostname in SERVICES
        assert env["FLOWLEDGER_RUNNER_TOKEN"]
    else:
        assert database, f"{name} would start an embedded PostgreSQL instead"
        assert urlsplit(database).hostname in SERVICES


ROLES_WITHOUT_API = {"projector", "intake", "dispatcher", "relay"}


@pytest.mark.parametrize("name", sorted(ROLES_WITHOUT_API))
def test_roles_without_an_api_are_probed_on_their_probe_port(name: str) -> None:
    service = SERVICES[name]
    port = service["environment"]["FLOWLEDGER_PROBE_PORT"]
    probe = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/health" in probe


def test_services_waiting_for_health_wait_on_services_that_have_a_health_check() -> None:
    for name, service in SERVICES.items():
        for needed, how in (service.get("depends_on") or {}).items():
            if how.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[needed], f"{name} waits on {needed}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_names_existing_services(name: str) -> None:
    depends_on = SERVICES[name].get("depends_on") or []
    assert set(depends_on) <= set(SERVICES) - {name}


def test_api_waits_for_migrations_to_finish() -> None:
    condition = SERVICES["api"]["depends_on"]["migrate"]["condition"]
    assert condition == "service_completed_successfully"


def test_the_image_installs_the_locked_dependencies_and_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]

    assert "FROM python:3.11-slim" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    assert all(f"COPY {package} " in dockerfile for package in packages), packages
