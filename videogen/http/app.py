"""The HTTP API (FastAPI). Thin: validation and HTTP semantics here, everything else in
``videogen.service.videos``. OpenAPI docs at ``/docs``. Errors are problem JSON (RFC 9457) naming the
field at fault."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from videogen import __version__
from videogen.errors import InvalidArticle, InvalidInput, JobConflict, JobNotFound, StorageError
from videogen.http.models import (
    BatchOut,
    Health,
    JobEvents,
    JobList,
    JobOut,
    QueueOut,
    TemplateOut,
    problems,
)
from videogen.http.pages import page_router
from videogen.http.problems import Problem, check_id, problem_response
from videogen.http.ratelimit import RateLimiter, retry_after
from videogen.outputs import CONTENT_TYPES, FILES
from videogen.render.article import parse_article
from videogen.render.templates import available_templates, load_template
from videogen.service.store import STATUSES, Job, now
from videogen.service.videos import JobOptions, VideoService, public_job
from videogen.settings import Settings

log = logging.getLogger(__name__)

HISTOGRAM_BUCKETS = (5, 10, 20, 30, 60, 120, 300, 600)


def create_app(settings: Settings, service: VideoService, run_sweeper: bool = True,
               broker_check: Callable[[], None] | None = None,
               queue_depth: Callable[[], int] | None = None) -> FastAPI:
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        service.migrate()
        if run_sweeper:
            service.start_sweeper(stop)
        yield
        stop.set()

    app = FastAPI(
        title="videogen", version=__version__, lifespan=lifespan,
        description="Turn news articles into short narrated video clips. Enqueue articles, follow their "
                    "progress, download the MP4, poster, WebVTT captions and manifest.",
    )
    app.state.service = service
    base = settings.public_url.rstrip("/")

    @app.exception_handler(Problem)
    async def _problem(_req: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # List every method of the path, not just those of the route that matched first.
            from starlette.routing import Match

            allowed = set()
            for route in app.routes:
                match, _ = route.matches({**request.scope, "method": "GET"})
                methods = getattr(route, "methods", None)
                if methods and match != Match.NONE:
                    allowed |= methods
            headers["Allow"] = ", ".join(sorted(allowed))
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        return problem_response(Problem(exc.status_code, title, str(exc.detail), headers=headers))

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")) or "body",
                   "message": e["msg"]} for e in exc.errors()]
        return problem_response(Problem(422, "Invalid request", errors[0]["message"] if errors else "", errors))

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    # --- auth and rate limit ------------------------------------------------------------
    keys = [k.encode() for k in settings.api_key_list]
    limiter = RateLimiter(settings.rate_limit)

    def require_key(request: Request) -> None:
        given = request.headers.get("x-api-key", "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if keys:
            ok = False
            for k in keys:  # compare with every key, in constant time: no early exit to time
                ok |= hmac.compare_digest(k, given.encode())
            if not ok:
                raise Problem(401, "Unauthorized", "a valid API key is required (Authorization: Bearer <key>)",
                              headers={"WWW-Authenticate": "Bearer"})
            who = "key:" + hashlib.sha256(given.encode()).hexdigest()[:16]  # never keep the key itself
        else:
            who = "addr:" + (request.client.host if request.client else "?")
        wait = limiter.take(who)
        if wait > 0:
            raise Problem(429, "Too Many Requests", f"at most {settings.rate_limit} write requests a minute",
                          headers={"Retry-After": retry_after(wait)})

    def job_or_404(job_id: str) -> Job:
        try:
            return service.store.get(check_id(job_id))
        except JobNotFound:
            raise Problem(404, "Not Found", f"no video {job_id}") from None

    # --- enqueue ---------------------------------------------------------------------------
    def _parse_options(raw: Any, where: str) -> JobOptions:
        if raw is None:
            return JobOptions()
        try:
            return JobOptions.model_validate(raw)
        except ValidationError as e:
            errors = [{"field": f"{where}." + ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in e.errors()]
            raise Problem(422, "Invalid options", errors[0]["message"], errors) from None

    def _enqueue(articles: list[tuple[dict[str, Any], str]], options: JobOptions) -> list[tuple[Job, bool]]:
        parsed = []
        errors: list[dict[str, str]] = []
        for data, prefix in articles:
            data = dict(data)
            own = _parse_options(data.pop("options"), f"{prefix}options") if "options" in data else options
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

    @app.post("/v1/videos", status_code=202, dependencies=[Depends(require_key)],
              openapi_extra={"requestBody": enqueue_schema}, summary="Enqueue one article or a batch",
              responses={202: {"description": "Queued (or the existing job for the same content)",
                               "model": JobOut | BatchOut},
                         **problems(400, 401, 413, 422, 429)})
    async def enqueue(request: Request) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            raise Problem(400, "Bad Request", "the body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise Problem(422, "Invalid article", "the body must be a JSON object", [{"field": "body", "message": "must be an object"}])
        options = _parse_options(payload.get("options"), "options")
        if "articles" in payload and "title" not in payload:
            items = payload["articles"]
            if not isinstance(items, list) or not items:
                raise Problem(422, "Invalid batch", "articles must be a non-empty list", [{"field": "articles", "message": "must be a non-empty list"}])
            if len(items) > settings.max_batch:
                raise Problem(413, "Batch too large", f"{len(items)} articles; at most {settings.max_batch} per request")
            extra = set(payload) - {"articles", "options"}
            if extra:
                raise Problem(422, "Invalid batch", f"unknown field {sorted(extra)[0]!r}", [{"field": sorted(extra)[0], "message": "unknown field"}])
            results = _enqueue([(a if isinstance(a, dict) else {"_": a}, f"articles[{i}].") for i, a in enumerate(items)], options)
            body = {"jobs": [dict(public_job(j, base), deduplicated=not created) for j, created in results]}
            return JSONResponse(body, status_code=202)
        data = {k: v for k, v in payload.items() if k != "options"}
        [(job, created)] = _enqueue([(data, "")], options)
        body = dict(public_job(job, base), deduplicated=not created)
        return JSONResponse(body, status_code=202, headers={"Location": f"{base}/v1/videos/{job.id}"})

    # --- jobs -------------------------------------------------------------------------------
    @app.get("/v1/videos", summary="List jobs", response_model=JobList, responses=problems(422))
    def list_jobs(status: str | None = Query(None, pattern="^(" + "|".join(STATUSES) + ")$"),
                  limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=1_000_000),
                  article_id: str | None = Query(None, max_length=128)) -> dict[str, Any]:
        items = service.store.list(status=status, limit=limit + 1, offset=offset, article_id=article_id)
        more = len(items) > limit
        nxt = None
        if more:
            q = f"limit={limit}&offset={offset + limit}" + (f"&status={status}" if status else "")
            nxt = f"{base}/v1/videos?{q}"
        return {"items": [public_job(j, base) for j in items[:limit]], "next": nxt, "counts": service.store.counts()}

    @app.get("/v1/videos/{job_id}", summary="Status, stage, percent, error and links of a job",
             response_model=JobOut, responses=problems(404, 422))
    def get_job(job_id: str) -> dict[str, Any]:
        return public_job(job_or_404(job_id), base)

    @app.delete("/v1/videos/{job_id}", dependencies=[Depends(require_key)], summary="Cancel a queued or rendering job",
                response_model=JobOut, responses=problems(401, 404, 409, 422, 429))
    def cancel(job_id: str) -> dict[str, Any]:
        job = job_or_404(job_id)
        if job.status not in ("queued", "rendering"):
            raise Problem(409, "Conflict", f"the job is {job.status}; only queued or rendering jobs can be cancelled")
        return public_job(service.cancel(job.id), base)

    @app.post("/v1/videos/{job_id}/rerender", status_code=202, dependencies=[Depends(require_key)],
              summary="Render a job's article again",
              responses={202: {"model": JobOut, "description": "Queued"}, **problems(401, 404, 422, 429)})
    def rerender(job_id: str) -> Response:
        job_or_404(job_id)
        try:
            job, created = service.rerender(job_id)
        except InvalidInput as e:
            raise Problem(422, "Invalid request", str(e)) from None
        return JSONResponse(dict(public_job(job, base), deduplicated=not created), status_code=202,
                            headers={"Location": f"{base}/v1/videos/{job.id}"})

    @app.post("/v1/videos/{job_id}/retry", status_code=202, dependencies=[Depends(require_key)],
              summary="Queue a failed or cancelled job again (same id, attempts reset)",
              responses={202: {"model": JobOut, "description": "Queued again"}, **problems(401, 404, 409, 422, 429)})
    def retry(job_id: str) -> Response:
        job = job_or_404(job_id)
        try:
            job = service.retry(job.id)
        except JobConflict as e:
            raise Problem(409, "Conflict", str(e)) from None
        return JSONResponse(public_job(job, base), status_code=202, headers={"Location": f"{base}/v1/videos/{job.id}"})

    @app.get("/v1/videos/{job_id}/events", summary="State changes of a job (queued, rendering, requeued, done…)",
             response_model=JobEvents, responses=problems(404, 422))
    def events(job_id: str) -> dict[str, Any]:
        job = job_or_404(job_id)
        return {"id": job.id, "items": [{"at": e.at.isoformat(timespec="milliseconds"), "event": e.event,
                                         "worker": e.worker, "detail": e.detail} for e in service.store.events(job.id)]}

    @app.get("/v1/queue", summary="Operator's view: broker queue depth, jobs per status, running jobs with "
             "worker and heartbeat age, recent failures, renders per worker", response_model=QueueOut)
    def queue() -> dict[str, Any]:
        return service.queue_overview(queue_depth)

    # --- media -------------------------------------------------------------------------------
    def media(job_id: str, name: str, request: Request) -> Response:
        job = job_or_404(job_id)
        if job.status != "done" or not job.output:
            raise Problem(404, "Not Found", f"the video is {job.status}, not done", headers={"Retry-After": "5"} if job.status in ("queued", "rendering") else None)
        return serve_file(service, job.output, name, request)

    for file_name in FILES:  # one route per file: no pattern that could match other paths
        def handler(job_id: str, request: Request, _name: str = file_name) -> Response:
            return media(job_id, _name, request)

        ctype = CONTENT_TYPES[file_name].split(";")[0]
        op = file_name.replace(".", "_")
        app.add_api_route(f"/v1/videos/{{job_id}}/{file_name}", handler, methods=["GET"], operation_id=f"get_{op}",
                          summary=f"Download {file_name} of a finished job (Range supported)",
                          responses={200: {"content": {ctype: {}}, "description": file_name},
                                     206: {"content": {ctype: {}}, "description": "Partial content"},
                                     302: {"description": "Redirect to a presigned object-storage URL (VIDEOGEN_S3_SERVE=redirect)"},
                                     304: {"description": "Not modified"}, **problems(404, 416, 422)})
        app.add_api_route(f"/v1/videos/{{job_id}}/{file_name}", handler, methods=["HEAD"], include_in_schema=False)

    # --- service -------------------------------------------------------------------------------
    @app.get("/v1/templates", summary="Templates available", response_model=list[TemplateOut])
    def templates() -> list[dict[str, Any]]:
        out = []
        for n in available_templates(settings.templates_dir):
            t = load_template(n, settings.templates_dir)
            out.append({"name": t.name, "width": t.width, "height": t.height, "fps": t.fps, "aspect": t.aspect, "description": t.description})
        return out

    @app.get("/health", summary="Broker, job store and storage reachable",
             responses={200: {"model": Health}, 503: {"model": Health, "description": "A dependency is down"}})
    def health() -> Response:
        checks: dict[str, str] = {}
        for name, fn in (("job_store", service.store.ping), ("storage", service.storage.check), ("broker", broker_check)):
            if fn is None:
                checks[name] = "not checked"
                continue
            try:
                fn()
                checks[name] = "ok"
            except Exception as e:  # noqa: BLE001 - report any failure of a dependency
                checks[name] = f"error: {type(e).__name__}: {str(e)[:200]}"
        ok = all(v in ("ok", "not checked") for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "checks": checks, "version": __version__},
                            status_code=200 if ok else 503)

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(prometheus_text(service, queue_depth), media_type="text/plain; version=0.0.4")


    app.include_router(page_router(settings, service))
    return app


def enqueue_body_schema(max_batch: int) -> dict[str, Any]:
    """JSON schema of POST /v1/videos, from the Article and JobOptions models (self-contained)."""
    from videogen.render.article import Article

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


def prometheus_text(service: VideoService, queue_depth: Callable[[], int] | None = None) -> str:
    counts = service.store.counts()
    lines = ["# HELP videogen_jobs Jobs in the job store by status.", "# TYPE videogen_jobs gauge"]
    lines += [f'videogen_jobs{{status="{s}"}} {n}' for s, n in counts.items()]
    lines += ["# HELP videogen_queue_depth Jobs waiting for a worker.", "# TYPE videogen_queue_depth gauge",
              f"videogen_queue_depth {counts['queued']}"]
    if queue_depth is not None:
        try:
            depth = queue_depth()
            lines += ["# HELP videogen_broker_queue_depth Messages waiting in the broker's render queue.",
                      "# TYPE videogen_broker_queue_depth gauge", f"videogen_broker_queue_depth {depth}"]
        except Exception:  # noqa: BLE001, S110 - a broker that is down shows in /health, not here
            pass
    running = service.store.running()
    if running:
        t = now()
        lines += ["# HELP videogen_heartbeat_age_seconds Seconds since each rendering job's last heartbeat.",
                  "# TYPE videogen_heartbeat_age_seconds gauge"]
        lines += [f'videogen_heartbeat_age_seconds{{job="{j.id}",worker="{_label(j.worker or "")}"}} '
                  f'{(t - j.heartbeat_at).total_seconds():.1f}' for j in running if j.heartbeat_at]
    secs = service.store.render_seconds()
    lines += ["# HELP videogen_render_seconds Wall time of finished renders.", "# TYPE videogen_render_seconds histogram"]
    for b in HISTOGRAM_BUCKETS:
        lines.append(f'videogen_render_seconds_bucket{{le="{b}"}} {sum(1 for s in secs if s <= b)}')
    lines.append(f'videogen_render_seconds_bucket{{le="+Inf"}} {len(secs)}')
    lines += [f"videogen_render_seconds_sum {sum(secs):.3f}", f"videogen_render_seconds_count {len(secs)}"]
    lines += ["# HELP videogen_worker_renders_total Renders finished per worker.", "# TYPE videogen_worker_renders_total counter"]
    workers = service.store.workers()
    lines += [f'videogen_worker_renders_total{{worker="{_label(w)}"}} {n}' for w, n, _ in workers]
    lines += ["# HELP videogen_worker_render_seconds_total Render seconds per worker.", "# TYPE videogen_worker_render_seconds_total counter"]
    lines += [f'videogen_worker_render_seconds_total{{worker="{_label(w)}"}} {s:.3f}' for w, _, s in workers]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


# --- media with Range, ETag and caching -----------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def serve_file(service: VideoService, key: str, name: str, request: Request) -> Response:
    storage = service.storage
    if storage.serve_mode == "redirect" and request.method == "GET":
        # Object storage hands the bytes out itself (Range included) from a presigned URL.
        try:
            url = storage.presigned_url(key, name)
        except Exception as e:  # noqa: BLE001 - signing needs no network, but report any failure
            raise Problem(503, "Service Unavailable", f"cannot sign a URL for {name}: {e}") from None
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "private, max-age=60",
                                                               "Access-Control-Allow-Origin": "*"})
    try:
        st = service.storage.stat(key, name)
        etag = st.etag
        if name != "manifest.json":
            sha = service.storage.manifest(key).get("files", {}).get(name, {}).get("sha256")
            if sha:
                etag = f'"{sha[:32]}"'
    except StorageError:
        raise Problem(404, "Not Found", f"{name} is missing from storage") from None
    headers = {
        "ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "public, max-age=86400",
        "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Content-Range, Content-Length, ETag",
        "X-Content-Type-Options": "nosniff",
    }
    inm = request.headers.get("if-none-match")
    if inm and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    size = st.size
    start, end, status = 0, size - 1, 200
    rng = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if rng and (not if_range or if_range.strip() == etag):
        m = _RANGE.match(rng.strip().replace(" ", ""))
        if m and (m.group(1) or m.group(2)):
            a, b = m.group(1), m.group(2)
            if a == "":
                length = int(b)
                start, end = max(0, size - length), size - 1
            else:
                start, end = int(a), min(int(b), size - 1) if b else size - 1
            if start >= size or start > end or size == 0:
                return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        # A malformed or multi-range header is ignored: the whole file is sent (RFC 9110).
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=st.content_type)

    def body() -> Iterator[bytes]:
        yield from service.storage.read(key, name, start, end)

    return StreamingResponse(body(), status_code=status, headers=headers, media_type=st.content_type)



class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not they declare a
    Content-Length, before the application reads them."""

    def __init__(self, app, limit: int):  # type: ignore[no-untyped-def]
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = Problem(413, "Payload Too Large", f"request bodies are limited to {self.limit} bytes")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await problem_response(too_big)(scope, receive, send)
        seen = 0

        async def counted():  # type: ignore[no-untyped-def]
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooBig()
            return message

        try:
            return await self.app(scope, counted, send)
        except _TooBig:
            return await problem_response(too_big)(scope, receive, send)


class _TooBig(Exception):
    pass
