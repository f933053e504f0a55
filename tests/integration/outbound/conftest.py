"""The outbound tests' fixtures."""

from tests.integration.outbound.world import world  # noqa: F401  (a fixture)
