"""Ingest and the feed registry over HTTP: ``POST /v1/ingest`` (a page or feed URL → jobs) and
``/v1/feeds`` (add, list, show, change, remove, poll now). Reads need a key when keys are set,
writes a key and a token of the write rate limit. Errors are problem JSON naming the field."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from videogen.errors import InvalidInput, NetError, TransientNetError
from videogen.http.auth import Auth
from videogen.http.problems import Problem, problems
from videogen.http.videos import parse_json_body
from videogen.net import check_url
from videogen.service.ingest.poller import FeedService, feed_details, feed_view
from videogen.service.ingest.registry import FeedConfig, FeedNotFound
from videogen.service.videos import JobOptions, check_template_name, public_job
from videogen.settings import Settings


def _invalid(e: ValidationError, where: str) -> Problem:
    errors = [{"field": ".".join([where, *(str(p) for p in err["loc"])]).strip("."),
               "message": "unknown field" if err["type"] == "extra_forbidden" else err["msg"]} for err in e.errors()]
    return Problem(422, "Invalid request", f"{errors[0]['field']}: {errors[0]['message']}", errors)


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise Problem(422, "Invalid request", "the body must be a JSON object", [{"field": "body", "message": "must be an object"}])
    return payload


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Problem(422, "Invalid request", "url: is required", [{"field": "url", "message": "is required"}])
    try:
        check_url(value.strip())
    except NetError as e:
        raise Problem(422, "Invalid request", f"url: {e}", [{"field": "url", "message": str(e)}]) from None
    if len(value) > 2048:
        raise Problem(422, "Invalid request", "url: longer than 2048 characters", [{"field": "url", "message": "too long"}])
    return value.strip()


async def _body(request: Request) -> Any:
    """The request's JSON body (400 for what is not JSON, 422 for too deep)."""
    return parse_json_body(await request.body())


BODY = Depends(_body)


def feeds_router(settings: Settings, feeds: FeedService, auth: Auth | None = None) -> APIRouter:
    auth = auth or Auth(settings)
    router = APIRouter(dependencies=[Depends(auth.read)])
    write = [Depends(auth.write)]
    base = settings.public_url.rstrip("/")

    def check_templates(config: FeedConfig, where: str) -> None:
        for i, name in enumerate(config.templates):
            try:
                check_template_name(name, settings.templates_dirs)
            except InvalidInput as e:
                raise Problem(422, "Invalid request", f"{where}[{i}]: {e.message}",
                              [{"field": f"{where}[{i}]", "message": e.message}]) from None

    def feed_or_404(feed_id: str) -> dict[str, Any]:
        try:
            return feed_details(feeds, feed_id)
        except FeedNotFound:
            raise Problem(404, "Not Found", f"no feed {feed_id[:40]!r}") from None

    @router.post("/v1/ingest", status_code=202, dependencies=write, summary="Enqueue the article(s) of a page or feed URL",
                 responses={202: {"description": "Queued: the job ids, and the feed items left out with their reason"},
                            **problems(400, 401, 413, 422, 429, 502, 503)})
    def ingest(payload: Any = BODY) -> Response:
        body = _object(payload)
        extra = set(body) - {"url", "options"}
        if extra:
            name = sorted(extra)[0]
            raise Problem(422, "Invalid request", f"{name}: unknown field", [{"field": name, "message": "unknown field"}])
        url = _url(body.get("url"))
        raw = dict(body.get("options") or {}) if isinstance(body.get("options") or {}, dict) else None
        if raw is None:
            raise Problem(422, "Invalid request", "options: must be an object", [{"field": "options", "message": "must be an object"}])
        templates = raw.pop("templates", None)
        try:
            options = JobOptions.model_validate(raw)
            config = FeedConfig(templates=templates or [options.template])
        except ValidationError as e:
            raise _invalid(e, "options") from None
        check_templates(config, "options.templates")
        extra_opts = options.model_dump(exclude={"template"}, exclude_none=True)
        try:
            jobs, skipped = feeds.ingest([url], config, extra_opts)
        except TransientNetError as e:
            raise Problem(502, "Bad Gateway", f"url: {e}; try again later") from None
        except InvalidInput as e:
            raise Problem(422, "Not ingestible", str(e), [{"field": e.field, "message": e.message}]) from None
        return JSONResponse({"job_ids": [j.id for j in jobs], "jobs": [public_job(j, base) for j in jobs],
                             "skipped": [{"title": o.title, "link": o.link, "reason": o.reason} for o in skipped]},
                            status_code=202)

    @router.post("/v1/feeds", status_code=201, dependencies=write, summary="Register a feed (polled at once, then every `every` s)",
                 responses={201: {"description": "The feed"}, 200: {"description": "The feed already registered"},
                            **problems(400, 401, 422, 429)})
    def add(payload: Any = BODY) -> Response:
        body = _object(payload)
        url = _url(body.get("url"))
        try:
            config = FeedConfig.model_validate({k: v for k, v in body.items() if k != "url"})
        except ValidationError as e:
            raise _invalid(e, "") from None
        check_templates(config, "templates")
        feed, created = feeds.registry.add(url, config)
        return JSONResponse(feed_view(feed, []), status_code=201 if created else 200,
                            headers={"Location": f"{base}/v1/feeds/{feed.id}"})

    @router.get("/v1/feeds", summary="Registered feeds with their polling state", responses=problems(401, 429))
    def list_feeds() -> dict[str, Any]:
        return {"items": [feed_view(f) for f in feeds.registry.all()]}

    @router.get("/v1/feeds/{feed_id}", summary="A feed: state, last error, items seen and the jobs they made",
                responses=problems(401, 404, 429))
    def get_feed(feed_id: str) -> dict[str, Any]:
        return feed_or_404(feed_id)

    @router.patch("/v1/feeds/{feed_id}", dependencies=write, summary="Change a feed's configuration",
                  responses=problems(400, 401, 404, 422, 429))
    def patch(feed_id: str, payload: Any = BODY) -> dict[str, Any]:
        body = _object(payload)
        try:
            feed = feeds.registry.get(feed_id)
        except FeedNotFound:
            raise Problem(404, "Not Found", f"no feed {feed_id[:40]!r}") from None
        if "url" in body:
            raise Problem(422, "Invalid request", "url: cannot be changed (remove the feed and add the new URL)",
                          [{"field": "url", "message": "cannot be changed"}])
        merged = feed.config.model_dump()
        for k, v in body.items():
            merged[k] = {**merged[k], **v} if isinstance(merged.get(k), dict) and isinstance(v, dict) else v
        try:
            config = FeedConfig.model_validate(merged)
        except ValidationError as e:
            raise _invalid(e, "") from None
        check_templates(config, "templates")
        feeds.registry.update(feed_id, config)
        return feed_or_404(feed_id)

    @router.delete("/v1/feeds/{feed_id}", status_code=204, dependencies=write, summary="Remove a feed (its jobs stay)",
                   responses=problems(401, 404, 429))
    def remove(feed_id: str) -> Response:
        try:
            feeds.registry.remove(feed_id)
        except FeedNotFound:
            raise Problem(404, "Not Found", f"no feed {feed_id[:40]!r}") from None
        return Response(status_code=204)

    @router.post("/v1/feeds/{feed_id}/poll", dependencies=write, summary="Poll a feed now",
                 responses={200: {"description": "What the poll did"}, **problems(401, 404, 409, 429)})
    def poll(feed_id: str) -> dict[str, Any]:
        try:
            result = feeds.poll(feed_id, force=True)
        except FeedNotFound:
            raise Problem(404, "Not Found", f"no feed {feed_id[:40]!r}") from None
        if result.status == "busy":
            raise Problem(409, "Conflict", "another process is polling this feed right now")
        return result.summary()

    return router
