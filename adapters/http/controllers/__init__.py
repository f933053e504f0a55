"""HTTP controllers: thin, each route turns a body into a command and answers with its result."""

from adapters.http.controllers.api_keys import ApiKeysController
from adapters.http.controllers.pipelines import PipelinesController
from adapters.http.controllers.projections import ProjectionsController
from adapters.http.controllers.projects import ProjectsController
from adapters.http.controllers.runners import RunnersController
from adapters.http.controllers.runs import RunsController
from adapters.http.controllers.webhook_sources import WebhookSourcesController
from adapters.http.queries import QUERY_ROUTES, webhook_deliveries
from adapters.webhooks.controller import WebhooksController

ROUTES = [
    ProjectsController,
    PipelinesController,
    RunsController,
    RunnersController,
    ApiKeysController,
    WebhookSourcesController,
    ProjectionsController,
    WebhooksController,
    *QUERY_ROUTES,
    *webhook_deliveries.HANDLERS,
]
