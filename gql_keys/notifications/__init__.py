"""Notifications leaving the system: webhooks and e-mail (no database, no GraphQL)."""
