"""The command routes: thin controllers, each turning a body into a command and answering with
where it wrote. Registered before the reads, whose GETs merge into the same paths."""

from adapters.http.writes.api_keys import ApiKeysController
from adapters.http.writes.approvals import ApprovalsController
from adapters.http.writes.approver_groups import ApproverGroupsController
from adapters.http.writes.artifacts import ArtifactsController
from adapters.http.writes.data_subjects import DataSubjectsController
from adapters.http.writes.environments import EnvironmentsController
from adapters.http.writes.jenkins_builds import JenkinsBuildsController
from adapters.http.writes.notification_rules import NotificationRulesController
from adapters.http.writes.pipelines import PipelinesController
from adapters.http.writes.project_settings import ProjectSettingsController
from adapters.http.writes.projections import QuarantineController
from adapters.http.writes.projects import ProjectsController
from adapters.http.writes.runners import RunnersController
from adapters.http.writes.runs import RunsController
from adapters.http.writes.secrets import SecretsController
from adapters.http.writes.step_secrets import StepSecretsController
from adapters.http.writes.subscriptions import SubscriptionsController
from adapters.http.writes.system import SystemController
from adapters.http.writes.webhook_sources import WebhookSourcesController

ROUTES = [
    ProjectsController,
    PipelinesController,
    RunsController,
    RunnersController,
    ApiKeysController,
    WebhookSourcesController,
    DataSubjectsController,
    QuarantineController,
    SubscriptionsController,
    SystemController,
    ApprovalsController,
    EnvironmentsController,
    SecretsController,
    StepSecretsController,
    ArtifactsController,
    NotificationRulesController,
    JenkinsBuildsController,
    ApproverGroupsController,
    ProjectSettingsController,
]
