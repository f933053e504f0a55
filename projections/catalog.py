"""Every read model the projector keeps, by name."""

from __future__ import annotations

from projections.api_keys import ApiKeysProjection
from projections.approvals import ApprovalsProjection
from projections.artifacts import ArtifactsProjection
from projections.environments import EnvironmentsProjection
from projections.jenkins_builds import JenkinsBuildsProjection
from projections.logs import LogsProjection
from projections.notification_rules import NotificationRulesProjection
from projections.pipeline_stats import PipelineStatsProjection
from projections.pipelines import PipelinesProjection
from projections.projection import Projection
from projections.projects import ProjectsProjection
from projections.queues import QueuesProjection
from projections.runners import RunnersProjection
from projections.runs import RunsProjection
from projections.schedules import SchedulesProjection
from projections.secrets import SecretsProjection
from projections.subscriptions import SubscriptionsProjection
from projections.webhook_deliveries import WebhookDeliveriesProjection
from projections.webhook_sources import WebhookSourcesProjection

ALL: tuple[Projection, ...] = (
    ProjectsProjection(),
    PipelinesProjection(),
    RunsProjection(),
    LogsProjection(),
    PipelineStatsProjection(),
    ApiKeysProjection(),
    WebhookSourcesProjection(),
    WebhookDeliveriesProjection(),
    RunnersProjection(),
    SubscriptionsProjection(),
    QueuesProjection(),
    ApprovalsProjection(),
    EnvironmentsProjection(),
    SecretsProjection(),
    SchedulesProjection(),
    ArtifactsProjection(),
    NotificationRulesProjection(),
    JenkinsBuildsProjection(),
)
_BY_NAME = {projection.name: projection for projection in ALL}


def by_name(name: str) -> Projection:
    """The projection called `name`; KeyError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no projection {name!r}; known: {', '.join(_BY_NAME)}") from None
