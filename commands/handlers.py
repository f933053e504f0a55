"""The one map from command type to handler."""

from __future__ import annotations

from commands import (
    api_keys,
    approvals,
    artifacts,
    commit_statuses,
    concurrency,
    data_subjects,
    dispatch,
    environments,
    pipelines,
    project_settings,
    projects,
    quarantine,
    queues,
    runners,
    runs,
    schedule_skips,
    secrets,
    step_secrets,
    subscriptions,
    system_notices,
    webhook_deliveries,
    webhook_sources,
)
from commands.bus import Handler

HANDLERS: dict[type, Handler] = {
    **projects.HANDLERS,
    **pipelines.HANDLERS,
    **runs.HANDLERS,
    **api_keys.HANDLERS,
    **data_subjects.HANDLERS,
    **webhook_sources.HANDLERS,
    **webhook_deliveries.HANDLERS,
    **runners.HANDLERS,
    **dispatch.HANDLERS,
    **quarantine.HANDLERS,
    **subscriptions.HANDLERS,
    **commit_statuses.HANDLERS,
    **system_notices.HANDLERS,
    **queues.HANDLERS,
    **approvals.HANDLERS,
    **environments.HANDLERS,
    **secrets.HANDLERS,
    **step_secrets.HANDLERS,
    **concurrency.HANDLERS,
    **schedule_skips.HANDLERS,
    **artifacts.HANDLERS,
    **project_settings.HANDLERS,
}
