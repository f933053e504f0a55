"""Webhook ingestion: verify a delivery's signature, record it once, answer fast (see README.md)."""
