"""Notifications: per-project rules told to Slack-compatible webhooks or by e-mail."""
