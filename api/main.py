"""ASGI entry point: `uvicorn api.main:app`."""

from api.app import create_app
from storage.db import set_process_kind

set_process_kind("api")  # before any connection: the API's pool size (schemas [pools])
app = create_app()
