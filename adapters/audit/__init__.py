"""Audit over the event store: history, past states, causation, hash-chain verification,
timelines."""
