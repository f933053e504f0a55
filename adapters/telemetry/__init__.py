"""Telemetry: OpenTelemetry traces, Prometheus metrics and JSON logs for every role."""
