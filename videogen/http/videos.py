"""The job routes: enqueue (one article or a batch), list, status, cancel, re-render, retry and
events, under ``/v1/videos``. Validation and HTTP semantics here; the work is
``videogen.service.videos.VideoService``'s."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from videogen.errors import InvalidArticle, InvalidInput, JobConflict
from videogen.http.auth import Auth
from videogen.http.limits import MAX_JSON_DEPTH, json_depth
from videogen.http.models import BatchOut, JobList
from videogen.http.problems import Problem, job_or_404, problems
from videogen.render.article import Article, parse_article
from videogen.service.store import STATUSES, Job, Page
from videogen.service.videos import JobOptions, VideoService, public_job
from videogen.service.views import JobEventOut, JobEvents, JobOut, scrub_paths
from videogen.settings import Settings


def videos_router(settings: Settings, service: VideoService, auth: Auth | None = None) -> APIRouter:
    """The ``/v1/videos`` routes; ``videogen.http.app.create_app`` includes them. Every route
    needs a key when keys are configured (``auth.read``, on the router); writes also take a
    token from the caller's bucket."""
    auth = auth or Auth(settings)
    router = APIRouter(dependencies=[Depends(auth.read)])
    base = settings.public_url.rstrip("/")
    write = [Depends(auth.write)]  # one rate limiter for all the write routes

    def parse_options(raw: Any, where: str) -> JobOptions:
        if raw is None:
            return JobOptions()
        try:
            return JobOptions.model_validate(raw)
        except ValidationError as e:
            errors = [{"field": f"{where}." + ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in e.errors()]
            raise Problem(422, "Invalid options", errors[0]["message"], errors) from None

    def enqueue_all(articles: list[tuple[dict[str, Any], str]], options: JobOptions) -> list[tuple[Job, bool]]:
        parsed = []
        errors: list[dict[str, str]] = []
        for data, prefix in articles:
            data = dict(data)
            own = parse_options(data.pop("options"), f"{prefix}options") if "options" in data else options
            try:
                parsed.append((parse_article(data, prefix=prefix, limits=settings.article_limits()), own))
            except InvalidArticle as e:
                errors += [{"field": f, "message": m} for f, m in e.errors]
        if errors:
            raise Problem(422, "Invalid article", f"{errors[0]['field']}: {errors[0]['message']}", errors)
        # Check every job's options before queueing any: a batch is all or nothing.
        for article, own in parsed:
            try:
                service.check(article, own)
            except InvalidInput as e:
                raise Problem(422, "Invalid request", str(e), [{"field": e.field, "message": e.message}]) from None
        out = []
        for article, own in parsed:
            try:
                out.append(service.enqueue(article, own))
            except InvalidInput as e:
                raise Problem(422, "Invalid request", str(e), [{"field": e.field, "message": e.message}]) from None
        return out

    enqueue_schema = {
        "description": "One article (its fields at the top level, plus optional `options`), "
                       "or a batch: `{\"articles\": [...], \"options\": {...}}`.",
        "content": {"application/json": {"schema": enqueue_body_schema(settings.max_batch)}},
    }

    @router.post("/v1/videos", status_code=202, dependencies=write,
                 openapi_extra={"requestBody": enqueue_schema}, summary="Enqueue one article or a batch",
                 responses={202: {"description": "Queued (or the existing job for the same content)",
                                  "model": JobOut | BatchOut},
                            **problems(400, 401, 413, 422, 429, 503)})
    async def enqueue(request: Request) -> Response:
        # Only the body is read on the event loop; checking and storing the jobs (the job store,
        # the broker, address lookups of webhooks) runs in the thread pool like every other route,
        # so a slow store or broker never stalls the loop.
        payload = parse_json_body(await request.body())
        return await run_in_threadpool(accept, payload)

    def accept(payload: Any) -> Response:
        if not isinstance(payload, dict):
            raise Problem(422, "Invalid article", "the body must be a JSON object", [{"field": "body", "message": "must be an object"}])
        options = parse_options(payload.get("options"), "options")
        if "articles" in payload and "title" not in payload:
            items = payload["articles"]
            if not isinstance(items, list) or not items:
                raise Problem(422, "Invalid batch", "articles must be a non-empty list", [{"field": "articles", "message": "must be a non-empty list"}])
            if len(items) > settings.max_batch:
                raise Problem(413, "Batch too large", f"{len(items)} articles; at most {settings.max_batch} per request")
            extra = set(payload) - {"articles", "options"}
            if extra:
                raise Problem(422, "Invalid batch", f"unknown field {sorted(extra)[0]!r}", [{"field": sorted(extra)[0], "message": "unknown field"}])
            results = enqueue_all([(a if isinstance(a, dict) else {"_": a}, f"articles[{i}].") for i, a in enumerate(items)], options)
            body = {"jobs": [dict(public_job(j, base), deduplicated=not created) for j, created in results]}
            return JSONResponse(body, status_code=202)
        data = {k: v for k, v in payload.items() if k != "options"}
        [(job, created)] = enqueue_all([(data, "")], options)
        one = dict(public_job(job, base), deduplicated=not created)
        return JSONResponse(one, status_code=202, headers={"Location": f"{base}/v1/videos/{job.id}"})

    @router.get("/v1/videos", summary="List jobs, newest first (keyset pages: follow `next`)", response_model=JobList,
                responses=problems(401, 422, 429))
    def list_jobs(status: str | None = Query(None, pattern="^(" + "|".join(STATUSES) + ")$"),
                  limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, description=OFFSET_GONE),
                  article_id: str | None = Query(None, max_length=128), template: str | None = Query(None, max_length=64),
                  created_after: Annotated[str | None, Query(max_length=40, description="ISO 8601 date or time; jobs created at or after")] = None,
                  created_before: Annotated[str | None, Query(max_length=40, description="ISO 8601 date or time; jobs created before")] = None,
                  cursor: str | None = Query(None, max_length=512, description="the `next` link's cursor")) -> dict[str, Any]:
        if offset:
            raise Problem(422, "Invalid request", OFFSET_GONE, [{"field": "offset", "message": OFFSET_GONE}])
        since, until = parse_time(created_after, "created_after"), parse_time(created_before, "created_before")
        filters = {"status": status, "article_id": article_id, "template": template,
                   "created_after": since.isoformat() if since else None,
                   "created_before": until.isoformat() if until else None}
        after = parse_cursor(cursor, filters) if cursor else None
        items = service.store.list(status=status, limit=limit + 1, article_id=article_id, template=template,
                                   created_after=since, created_before=until, after=after)
        nxt = None
        if len(items) > limit:
            last = items[limit - 1]
            q = {k: v for k, v in filters.items() if v is not None}
            q.update(limit=str(limit), cursor=make_cursor(Page(last.created_at, last.id), filters))
            nxt = f"{base}/v1/videos?{urlencode(q)}"
        return {"items": service.job_views(items[:limit], base), "next": nxt, "counts": service.store.counts(),
                "counts_exact": True}

    @router.get("/v1/videos/{job_id}", summary="Status, stage, percent, error and links of a job",
                response_model=JobOut, response_model_exclude_unset=True, responses=problems(401, 404, 422, 429))
    def get_job(job_id: str) -> dict[str, Any]:
        return service.job_view(job_or_404(service, job_id), base)

    @router.delete("/v1/videos/{job_id}", dependencies=write, summary="Cancel a queued or rendering job",
                   response_model=JobOut, responses=problems(401, 404, 409, 422, 429))
    def cancel(job_id: str) -> dict[str, Any]:
        job = job_or_404(service, job_id)
        if job.status not in ("queued", "rendering"):
            raise Problem(409, "Conflict", f"the job is {job.status}; only queued or rendering jobs can be cancelled")
        return public_job(service.cancel(job.id), base)

    @router.post("/v1/videos/{job_id}/rerender", status_code=202, dependencies=write,
                 summary="Render a job's article again",
                 responses={202: {"model": JobOut, "description": "Queued"}, **problems(401, 404, 422, 429)})
    def rerender(job_id: str) -> Response:
        job_or_404(service, job_id)
        try:
            job, created = service.rerender(job_id)
        except InvalidInput as e:
            raise Problem(422, "Invalid request", str(e)) from None
        return JSONResponse(dict(public_job(job, base), deduplicated=not created), status_code=202,
                            headers={"Location": f"{base}/v1/videos/{job.id}"})

    @router.get("/v1/videos/{job_id}/script", summary="What a clip says and shows, sentence by sentence",
                responses={200: {"description": '{"sentences": [{"spoken": …, "caption": …}, …]}, the title first'},
                           **problems(401, 404, 422, 429)})
    def get_script(job_id: str) -> dict[str, Any]:
        job = job_or_404(service, job_id)
        try:
            pairs = service.script_of(job)
        except InvalidInput as e:
            raise Problem(422, "Invalid request", str(e)) from None
        return {"sentences": [{"spoken": spoken, "caption": caption} for caption, spoken in pairs]}

    @router.put("/v1/videos/{job_id}/script", status_code=202, dependencies=write,
                summary="Render a clip again with a corrected script",
                responses={202: {"description": '{"id": the new job}: renders with the job\'s options; unchanged '
                                                "sentences come from the narration cache"},
                           **problems(400, 401, 404, 409, 413, 422, 429)})
    async def put_script(job_id: str, request: Request, by: str = Depends(auth.caller)) -> Response:
        await run_in_threadpool(job_or_404, service, job_id)
        body = parse_json_body(await request.body())
        if not isinstance(body, dict):
            raise Problem(422, "Invalid request", "the body must be a JSON object",
                          [{"field": "body", "message": "must be an object"}])
        for key in sorted(set(body) - {"sentences"}):
            raise Problem(422, "Invalid request", f"{key}: unknown field", [{"field": key, "message": "unknown field"}])
        try:
            job = await run_in_threadpool(service.correct, job_id, body.get("sentences"), by)
        except InvalidInput as e:
            raise Problem(422, "Invalid request", str(e), [{"field": e.field, "message": e.message}]) from None
        except JobConflict as e:
            raise Problem(409, "Conflict", str(e)) from None
        return JSONResponse({"id": job.id}, status_code=202, headers={"Location": f"{base}/v1/videos/{job.id}"})

    @router.post("/v1/videos/{job_id}/retry", status_code=202, dependencies=write,
                 summary="Queue a failed or cancelled job again (same id, attempts reset)",
                 responses={202: {"model": JobOut, "description": "Queued again"}, **problems(401, 404, 409, 422, 429)})
    def retry(job_id: str) -> Response:
        job = job_or_404(service, job_id)
        try:
            job = service.retry(job.id)
        except JobConflict as e:
            raise Problem(409, "Conflict", str(e)) from None
        return JSONResponse(public_job(job, base), status_code=202, headers={"Location": f"{base}/v1/videos/{job.id}"})

    @router.get("/v1/videos/{job_id}/events", summary="State changes of a job (queued, rendering, requeued, done…)",
                response_model=JobEvents, responses=problems(401, 404, 422, 429))
    def events(job_id: str) -> JobEvents:
        job = job_or_404(service, job_id)
        return JobEvents(id=job.id, items=[JobEventOut(at=e.at.isoformat(timespec="milliseconds"), event=e.event,
                                                       worker=e.worker, detail=scrub_paths(e.detail), by=e.actor)
                                           for e in service.store.events(job.id)])

    return router


OFFSET_GONE = ("Deprecated: only 0 is accepted. Lists page by keyset: follow the `next` link "
               "(its `cursor`), as fast on the last page as on the first.")


def parse_time(value: str | None, field: str) -> datetime | None:
    """A date-range bound (ISO 8601 date or date and time) in UTC; a time without offset is
    UTC. A 422 naming ``field`` for anything else."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if len(value.strip()) < 10:
            raise ValueError(value)
    except ValueError:
        message = "not an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T08:00:00Z"
        raise Problem(422, "Invalid request", f"{field}: {message}", [{"field": field, "message": message}]) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _cursor_check(payload: str, filters: dict[str, Any]) -> str:
    return hashlib.sha256((payload + json.dumps(filters, sort_keys=True)).encode()).hexdigest()[:16]


def make_cursor(page: Page, filters: dict[str, Any]) -> str:
    """An opaque cursor: the last job's (created_at, id), bound to the list's filters."""
    payload = base64.urlsafe_b64encode(json.dumps([page.created_at.isoformat(), page.id]).encode()).decode().rstrip("=")
    return f"{payload}.{_cursor_check(payload, filters)}"


def parse_cursor(cursor: str, filters: dict[str, Any]) -> Page:
    """The page a ``make_cursor`` cursor names, or a 422 naming ``cursor`` when it was altered,
    is not one, or was made for other filters."""
    payload, _, check = cursor.partition(".")
    try:
        if check != _cursor_check(payload, filters):
            raise ValueError("checksum")
        created, job_id = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return Page(datetime.fromisoformat(created), str(job_id))
    except (ValueError, TypeError):
        message = "not a cursor of this list: use the `next` link as given, with the same filters"
        raise Problem(422, "Invalid cursor", message, [{"field": "cursor", "message": message}]) from None


def parse_json_body(raw: bytes) -> Any:
    """The JSON value of a request body, or a 4xx ``Problem``: 400 for what is not JSON, 422 for
    nesting deeper than ``MAX_JSON_DEPTH`` (refused before the parser recurses into it)."""
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        message = f"nested {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted"
        raise Problem(422, "Invalid request", f"the body is {message}", [{"field": "body", "message": message}])
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise Problem(400, "Bad Request", "the body is not valid JSON") from None


def enqueue_body_schema(max_batch: int) -> dict[str, Any]:
    """JSON schema of POST /v1/videos, from the Article and JobOptions models (self-contained)."""

    def inline(schema: dict[str, Any]) -> dict[str, Any]:
        defs = schema.pop("$defs", {})

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                if "$ref" in node:
                    return walk(dict(defs[node["$ref"].rsplit("/", 1)[-1]]))
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        return walk(schema)

    single = inline(Article.model_json_schema())
    options = inline(JobOptions.model_json_schema())
    single["properties"] = {**single["properties"], "options": options}
    batch = {"type": "object", "additionalProperties": False, "required": ["articles"],
             "properties": {"articles": {"type": "array", "minItems": 1, "maxItems": max_batch, "items": single},
                            "options": options}}
    return {"oneOf": [single, batch]}
