"""The operator's routes: ``/health`` (broker, job store, storage), ``/metrics`` (Prometheus
text, ``prometheus_text``), ``/v1/queue`` (the fleet at a glance) and ``/v1/templates``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from videogen import __version__
from videogen.http.auth import Auth
from videogen.http.models import Health, TemplateOut
from videogen.http.problems import problems
from videogen.render.templates import available_templates, load_template
from videogen.service.plays import PlayCounter
from videogen.service.schema import BUCKET_INF, HISTOGRAM_BUCKETS
from videogen.service.store import now
from videogen.service.videos import VideoService
from videogen.service.views import QueueOut, scrub_paths
from videogen.settings import Settings

__all__ = ["HISTOGRAM_BUCKETS", "operations_router", "prometheus_text"]


def operations_router(settings: Settings, service: VideoService, broker_check: Callable[[], None] | None = None,
                      queue_depth: Callable[[], int] | None = None, auth: Auth | None = None,
                      plays: PlayCounter | None = None) -> APIRouter:
    """The operator's routes; ``videogen.http.app.create_app`` includes them. ``broker_check``
    and ``queue_depth`` reach the broker (none given: not checked, depth not shown). The
    ``/v1/`` routes need a key when keys are configured; ``/metrics`` too unless
    VIDEOGEN_METRICS_PUBLIC=1; ``/health`` never."""
    router = APIRouter()
    auth = auth or Auth(settings)
    v1 = [Depends(auth.read)]

    @router.get("/v1/queue", summary="Operator's view: broker queue depth, jobs per status, running jobs with "
                "worker and heartbeat age, recent failures, renders per worker", response_model=QueueOut,
                dependencies=v1, responses=problems(401, 429))
    def queue() -> dict[str, Any]:
        return service.queue_overview(queue_depth)

    @router.get("/v1/templates", summary="Templates available", response_model=list[TemplateOut],
                dependencies=v1, responses=problems(401, 429))
    def templates() -> list[dict[str, Any]]:
        out = []
        for n in available_templates(settings.templates_dirs):
            t = load_template(n, settings.templates_dirs)
            out.append({"name": t.name, "width": t.width, "height": t.height, "fps": t.fps, "aspect": t.aspect, "description": t.description})
        return out

    @router.get("/health", summary="Broker, job store and storage reachable",
                responses={200: {"model": Health}, 503: {"model": Health, "description": "A dependency is down"}})
    def health() -> Response:
        checks: dict[str, str] = {}
        for name, fn in (("job_store", service.store.check), ("storage", service.storage.check), ("broker", broker_check)):
            if fn is None:
                checks[name] = "not checked"
                continue
            try:
                fn()
                checks[name] = "ok"
            except Exception as e:  # noqa: BLE001 - report any failure of a dependency
                checks[name] = scrub_paths(f"error: {type(e).__name__}: {str(e)[:200]}") or "error"
        ok = all(v in ("ok", "not checked") for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "checks": checks, "version": __version__},
                            status_code=200 if ok else 503)

    @router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics",
                dependencies=[Depends(auth.metrics)], responses=problems(401, 429))
    def metrics() -> PlainTextResponse:
        text = prometheus_text(service, queue_depth)
        if plays is not None:
            text += "\n".join(plays.prometheus()) + "\n"
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return router


def prometheus_text(service: VideoService, queue_depth: Callable[[], int] | None = None) -> str:
    """The Prometheus text of the fleet, from the maintained job counters (no table scan)."""
    counters = service.store.counters()
    counts = counters.statuses
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
    lines += ["# HELP videogen_render_seconds Wall time of finished renders.", "# TYPE videogen_render_seconds histogram"]
    cumulative = 0
    for b in HISTOGRAM_BUCKETS:
        cumulative += counters.buckets.get(float(b), 0)
        lines.append(f'videogen_render_seconds_bucket{{le="{b}"}} {cumulative}')
    total = cumulative + counters.buckets.get(BUCKET_INF, 0)
    lines.append(f'videogen_render_seconds_bucket{{le="+Inf"}} {total}')
    lines += [f"videogen_render_seconds_sum {counters.render_seconds:.3f}", f"videogen_render_seconds_count {total}"]
    lines += ["# HELP videogen_worker_renders_total Renders finished per worker.", "# TYPE videogen_worker_renders_total counter"]
    workers = [(w, n, s) for w, (n, s) in sorted(counters.workers.items())]
    lines += [f'videogen_worker_renders_total{{worker="{_label(w)}"}} {n}' for w, n, _ in workers]
    lines += ["# HELP videogen_worker_render_seconds_total Render seconds per worker.", "# TYPE videogen_worker_render_seconds_total counter"]
    lines += [f'videogen_worker_render_seconds_total{{worker="{_label(w)}"}} {s:.3f}' for w, _, s in workers]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
