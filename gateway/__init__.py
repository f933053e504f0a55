"""The WebSocket gateway: clients watch runs, pipelines, projects or everything, live."""

from gateway.config import GatewayConfig
from gateway.routes import websocket_routes

__all__ = ["GatewayConfig", "websocket_routes"]
