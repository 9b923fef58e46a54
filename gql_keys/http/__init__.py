"""HTTP plumbing below GraphQL: client addresses, health and metrics endpoints."""
