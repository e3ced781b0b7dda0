"""HTTP API (FastAPI): thin routers that validate, authorise, call a service and shape the answer."""
