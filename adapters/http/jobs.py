"""The jobs routes: POST/GET /v1/jobs, GET /v1/jobs/{id}[/events|/audio], DELETE /v1/jobs/{id}.

Scopes: a `speak` key creates jobs and reads them; cancelling needs an `admin` key or the key that created
the job (its owner, remembered as the key's hash).
"""

from __future__ import annotations

import json

from aiohttp import web

from adapters.http import uploads
from adapters.http.auth import bearer_token
from adapters.http.context import HUB_KEY
from adapters.http.guard import AUTHENTICATED
from adapters.http.speech import OPENAI_MODELS
from hub.api import Forbidden, key_digest

JOB_PATHS = ("/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/events", "/v1/jobs/{job_id}/audio")


def add_routes(app: web.Application) -> None:
    async def create(request: web.Request) -> web.Response:
        hub = request.app[HUB_KEY]
        body = await uploads.json_body(request)
        if body.get("model") in OPENAI_MODELS:  # OpenAI's names: the voice's own engine
            body["model"] = None
        job_id = await hub.jobs.submit(body, owner=_owner(request))
        status = await hub.jobs.status(job_id)
        return web.json_response(status, status=202, headers={"Location": f"/v1/jobs/{job_id}"})

    async def listing(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": await request.app[HUB_KEY].jobs.list()})

    async def status(request: web.Request) -> web.Response:
        return web.json_response(await request.app[HUB_KEY].jobs.status(request.match_info["job_id"]))

    async def cancel(request: web.Request) -> web.Response:
        jobs, job_id = request.app[HUB_KEY].jobs, request.match_info["job_id"]
        owner = await jobs.owner(job_id)
        if request.get(AUTHENTICATED) == "speak" and owner != _owner(request):
            raise Forbidden("only the key that created this job, or an admin key, may cancel it",
                            code="insufficient_scope")  # fmt: skip
        return web.json_response(await jobs.cancel(job_id))

    async def audio(request: web.Request) -> web.Response:
        # ?format= renders the same finished job another way (an m4b job's chapters as a zip, say)
        wanted = request.query.get("format")
        data, content_type, fmt = await request.app[HUB_KEY].jobs.audio(request.match_info["job_id"], wanted)
        name = f"{request.match_info['job_id']}.{fmt}"
        return web.Response(body=data, content_type=content_type,
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip

    async def events(request: web.Request) -> web.StreamResponse:
        """Server-sent events: `progress` after each chunk, then one `done`/`failed`/`cancelled` event."""
        jobs, job_id = request.app[HUB_KEY].jobs, request.match_info["job_id"]
        queue = jobs.listen(job_id)  # before reading the state: an end in between still arrives
        try:
            current = await jobs.status(job_id)
        except Exception:
            jobs.unlisten(job_id, queue)
            raise
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            while True:
                final = current["state"] in ("done", "failed", "cancelled")
                kind = current["state"] if final else "progress"
                await response.write(f"event: {kind}\ndata: {json.dumps(current)}\n\n".encode())
                if final:
                    break
                current = await queue.get()
        finally:
            jobs.unlisten(job_id, queue)
        await response.write_eof()
        return response

    app.router.add_post("/v1/jobs", create)
    app.router.add_get("/v1/jobs", listing)
    app.router.add_get("/v1/jobs/{job_id}", status)
    app.router.add_delete("/v1/jobs/{job_id}", cancel)
    app.router.add_get("/v1/jobs/{job_id}/events", events)
    app.router.add_get("/v1/jobs/{job_id}/audio", audio)


def _owner(request: web.Request) -> str:
    """The hash of the key this request came with ("" without one): who may cancel the job later."""
    token = bearer_token(request)
    return key_digest(token) if token else ""
