"""What leaves the service to tell people: e-mail (and, through the outbox, webhooks)."""
