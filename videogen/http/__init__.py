"""The HTTP interface (FastAPI): ``app.create_app`` wires the routers of this package."""
