"""The admin UI under /ui: server-rendered pages (Jinja2 templates, plain forms, a little plain
JavaScript served by the api itself) over the same control services as the control API
(`app/control/`). Its routers are in `pages/`, its dependencies (the signed-in caller, the CSRF
check) in `app/api/deps.py` with every other dependency."""
