"""The OpenAI-compatible HTTP API and the web UI, an adapter over the Hub facade like the others.

Modules: app (the server, its middlewares and routes), speech (POST /v1/audio/speech), routes (models, voices,
quality, clips, health, metrics, docs), uploads (clips in requests), jobs (/v1/jobs), auth (API keys), guard
(the browser guard), ui (the web UI and Home Assistant ingress), openapi (the API's description), errors
(OpenAI-shaped errors), context (what handlers read from the app).
"""

from adapters.http.app import HttpAdapter, create_app, run_server

__all__ = ["HttpAdapter", "create_app", "run_server"]
