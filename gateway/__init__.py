"""The WebSocket gateway: clients watch runs, pipelines, projects or everything, live."""

from gateway.config import GatewayConfig
from gateway.hub import gateway_lifespan
from gateway.routes import websocket_routes

__all__ = ["GatewayConfig", "gateway_lifespan", "websocket_routes"]
