"""The runner: pulls step jobs from JetStream, runs them as processes, reports through the API."""

from adapters.runner.config import RunnerConfig
from adapters.runner.runner import Runner

__all__ = ["Runner", "RunnerConfig"]
