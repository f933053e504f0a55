"""Outbound webhooks: subscriptions' deliveries, signed as Standard Webhooks, from JetStream."""
