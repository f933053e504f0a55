"""The outbound tests' fixtures."""

from tests.integration.outbound.world import world, world_and_relay  # noqa: F401  (fixtures)
