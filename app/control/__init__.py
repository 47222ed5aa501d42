"""The control API's services: tokens, connections, sync configurations, status, dead letters and
the decision log. Plain functions over a session and the vendor clients; no web imports, so the
CLI, the dev stack and the tests call them as the routers in `app/api/` do."""
