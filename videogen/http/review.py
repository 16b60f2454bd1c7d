"""The editorial routes (issue 18): approve, reject, unpublish, publish, preview links and the
versions of a clip, under ``/v1/videos/{id}``. Each action is recorded as a job event naming
the caller's key (``auth.caller``); the work is ``VideoService``'s (``service.publishing``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from videogen.errors import InvalidInput, JobConflict
from videogen.http.auth import Auth
from videogen.http.problems import Problem, job_or_404, problems
from videogen.http.videos import parse_json_body
from videogen.service.videos import VideoService
from videogen.service.views import JobOut
from videogen.settings import Settings


def _body(raw: bytes, allowed: set[str]) -> dict[str, Any]:
    """A JSON object with only ``allowed`` fields (an empty body is ``{}``), or a 4xx naming the field."""
    if not raw.strip():
        return {}
    body = parse_json_body(raw)
    if not isinstance(body, dict):
        raise Problem(422, "Invalid request", "the body must be a JSON object", [{"field": "body", "message": "must be an object"}])
    for key in sorted(set(body) - allowed):
        raise Problem(422, "Invalid request", f"{key}: unknown field", [{"field": key, "message": "unknown field"}])
    return body


def _conflict(e: JobConflict) -> Problem:
    return Problem(409, "Conflict", str(e))


def review_router(settings: Settings, service: VideoService, auth: Auth) -> APIRouter:
    """The editorial routes; ``videogen.http.app.create_app`` includes them. All need a key when
    keys are configured, and a token from the caller's write bucket."""
    router = APIRouter(dependencies=[Depends(auth.read)], tags=["review"])
    base = settings.public_url.rstrip("/")
    write = [Depends(auth.write)]
    job_answer: dict[int | str, dict[str, Any]] = {200: {"model": JobOut, "description": "The job after the action"}}

    def act(job_id: str, action: Any, *args: Any) -> dict[str, Any]:
        job_or_404(service, job_id)
        try:
            job = action(job_id, *args)
        except InvalidInput as e:
            raise Problem(422, "Invalid request", str(e), [{"field": e.field, "message": e.message}]) from None
        except JobConflict as e:
            raise _conflict(e) from None
        return service.job_view(job, base)

    @router.post("/v1/videos/{job_id}/approve", dependencies=write, summary="Publish a version waiting for review (review → done)",
                 responses={**job_answer, **problems(401, 404, 409, 422, 429)})
    async def approve(job_id: str, request: Request, by: str = Depends(auth.caller)) -> dict[str, Any]:
        _body(await request.body(), set())
        return await run_in_threadpool(act, job_id, service.approve, by)

    @router.post("/v1/videos/{job_id}/reject", dependencies=write, summary='Turn down a version in review: {"reason": …}',
                 responses={**job_answer, **problems(400, 401, 404, 409, 422, 429)})
    async def reject(job_id: str, request: Request, by: str = Depends(auth.caller)) -> dict[str, Any]:
        body = _body(await request.body(), {"reason"})
        return await run_in_threadpool(act, job_id, service.reject, by, body.get("reason"))

    @router.post("/v1/videos/{job_id}/unpublish", dependencies=write,
                 summary="Take the article's clip (this template) off every embed (410; files kept)",
                 responses={**job_answer, **problems(401, 404, 409, 422, 429)})
    async def unpublish(job_id: str, request: Request, by: str = Depends(auth.caller)) -> dict[str, Any]:
        _body(await request.body(), set())
        return await run_in_threadpool(act, job_id, service.unpublish, by)

    @router.post("/v1/videos/{job_id}/publish", dependencies=write,
                 summary="Make a done version the published one, or restore an unpublished clip",
                 responses={**job_answer, **problems(401, 404, 409, 422, 429)})
    async def publish(job_id: str, request: Request, by: str = Depends(auth.caller)) -> dict[str, Any]:
        _body(await request.body(), set())
        return await run_in_threadpool(act, job_id, service.publish, by)

    @router.post("/v1/videos/{job_id}/preview-link", dependencies=write,
                 summary='A signed link to see this version without a key: {"ttl": seconds} (default 1 day, at most 7)',
                 responses={200: {"description": '{"url": "<public url>/embed/{id}?preview=<token>", "expires_at": ISO time}'},
                            **problems(400, 401, 404, 409, 422, 429)})
    async def preview_link(job_id: str, request: Request, by: str = Depends(auth.caller)) -> dict[str, Any]:
        body = _body(await request.body(), {"ttl"})

        def make() -> dict[str, Any]:
            job_or_404(service, job_id)
            try:
                token, expires = service.preview_link(job_id, body.get("ttl"), by)
            except InvalidInput as e:
                raise Problem(422, "Invalid request", str(e), [{"field": e.field, "message": e.message}]) from None
            except JobConflict as e:
                raise _conflict(e) from None
            origin = base or str(request.base_url).rstrip("/")
            return {"url": f"{origin}/embed/{job_id}?preview={token}",
                    "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")}

        return await run_in_threadpool(make)

    @router.get("/v1/videos/{job_id}/versions", summary="The versions of this job's clip, newest first",
                responses={200: {"description": '{"versions": [job…], "published": id|null, "state": …}'},
                           **problems(401, 404, 422, 429)})
    def versions(job_id: str) -> dict[str, Any]:
        job = job_or_404(service, job_id)
        clip = service.publishing.clip_of(job)
        return {"versions": service.job_views(service.publishing.versions(job), base),
                "published": clip.published if clip.state == "published" else None, "state": clip.state}

    return router
