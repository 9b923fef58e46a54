"""The HTTP edge: the Starlette app, client addresses, health, forward-auth, WebSockets."""
