"""Streaming over NATS: the relay that publishes every event, job messages, and `tail`."""
