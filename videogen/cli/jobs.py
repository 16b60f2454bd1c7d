"""The service's jobs from the command line: ``enqueue``, ``status``, ``download``, ``cancel``,
``retry``, ``snippet``, ``queue``, ``health``. They share the job store, broker and media
folder of the API and the workers (same folder, same ``VIDEOGEN_*`` settings)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from videogen.cli.options import (
    EXIT_OK,
    EXIT_RENDER,
    CommandExit,
    Group,
    articles,
    as_json,
    error,
    finished_or_exit,
    job_id,
    job_options,
    job_or_exit,
    output_file,
    queue_options,
    read_articles,
    render_options,
    service,
)
from videogen.outputs import atomic_file

if TYPE_CHECKING:
    from videogen.cli.progress import JobBoard
    from videogen.service.videos import VideoService

group = Group()


def _wait_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="wait for the renders, with progress bars on stderr")


@group.command("enqueue", "queue article files (JSON or JSONL) for the workers; prints job ids",
               articles(), render_options, queue_options, _wait_option)
def cmd_enqueue(args: argparse.Namespace) -> int:
    batch = read_articles(args.articles)
    options = job_options(args)
    svc = service()
    for article in batch:  # check the whole batch before queueing any of it
        svc.check(article, options, local=True)
    ids = []
    for article in batch:
        job, created = svc.enqueue(article, options, local=True)
        ids.append(job.id)
        print(job.id, flush=True)
        if not created:
            print(f"videogen: {article.id}: already {job.status} as job {job.id} (use --force to render again)", file=sys.stderr)
    return follow_jobs(svc, ids) if args.wait else EXIT_OK


def follow_jobs(svc: VideoService, job_ids: list[str], board: JobBoard | None = None,
                stop: threading.Event | None = None, alive: Callable[[], str | None] | None = None) -> int:
    """Show the jobs' progress until every one is finished (exit 3 if any failed);
    ``alive()`` returning a message (a worker died…) stops early."""
    from videogen.cli.progress import JobBoard

    board = board or JobBoard()
    pending = list(job_ids)
    failed = 0
    while pending and not (stop and stop.is_set()):
        problem = alive() if alive else None
        if problem:
            board.update([])
            error(f"{problem}; {len(pending)} job(s) left queued (they are kept and will render later)")
            return EXIT_RENDER
        jobs = [svc.store.get(i) for i in pending]
        unfinished = [job for job in jobs if not job.finished]
        board.update(unfinished)  # first, so a finished job's bar is gone when its line is printed
        for job in jobs:
            if job.finished:
                board.finish(job)
                failed += job.status not in ("done", "review")  # review: rendered, waiting for an editor
        pending = [job.id for job in unfinished]
        if pending:
            time.sleep(0.5)
    return EXIT_RENDER if failed else EXIT_OK


@group.command("status", "show a job", job_id, as_json)
def cmd_status(args: argparse.Namespace) -> int:
    import json

    svc = service()
    job = job_or_exit(args.job_id, svc.store.get)
    if args.json:
        print(json.dumps(svc.job_view(job, svc.settings.public_url.rstrip("/")), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{job.id}  {job.status}  {job.stage or ''} {job.percent:.0f}%  {job.article_id}  {job.template}")
    if job.error:
        print(f"error: {job.error}")
    if job.status == "done":
        print(f"{job.duration:.1f}s clip, spoken by {job.engine}, rendered in {job.render_seconds:.1f}s by {job.worker}")
    return EXIT_OK


def _download_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", required=True, help="where to write it")
    output_file(p)


@group.command("download", "save a finished job's file", job_id, _download_options)
def cmd_download(args: argparse.Namespace) -> int:
    svc = service()
    job = finished_or_exit(job_or_exit(args.job_id, svc.store.get))
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as f:
        for chunk in svc.storage.read(job.output or "", args.file):
            f.write(chunk)
    print(target)
    return EXIT_OK


@group.command("cancel", "cancel a queued or rendering job", job_id)
def cmd_cancel(args: argparse.Namespace) -> int:
    job = job_or_exit(args.job_id, service().cancel)
    print(f"{job.id} {job.status}")
    return EXIT_OK if job.status == "cancelled" else EXIT_RENDER


@group.command("retry", "queue a failed or cancelled job again (same id, attempts reset)", job_id)
def cmd_retry(args: argparse.Namespace) -> int:
    from videogen.errors import JobConflict

    try:
        job = job_or_exit(args.job_id, service().retry)
    except JobConflict as e:
        raise CommandExit(EXIT_RENDER, str(e)) from None
    print(f"{job.id} {job.status}")
    return EXIT_OK


def _base_url(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", help="public URL of the API for the links (default VIDEOGEN_PUBLIC_URL, "
                                      "else http://API_HOST:API_PORT)")


@group.command("snippet", "print a finished job's HTML snippet for article pages (video + JSON-LD)",
               job_id, _base_url)
def cmd_snippet(args: argparse.Namespace) -> int:
    """Print the HTML block an article page pastes under the story (as GET /v1/videos/ID/snippet)."""
    from videogen.http.pages import Pages

    svc = service()
    job = finished_or_exit(job_or_exit(args.job_id, svc.store.get))
    pages = Pages(svc.settings, svc)
    base = (args.base_url or "").rstrip("/") or pages.base()
    print(pages.snippet(job, base))
    return EXIT_OK


def _failed_count(p: argparse.ArgumentParser) -> None:
    p.add_argument("--failed", type=int, default=20, help="how many recent failures to show (default 20)")


@group.command("queue", "operator's view: queue depth, running jobs (worker, heartbeat age), failures",
               as_json, _failed_count)
def cmd_queue(args: argparse.Namespace) -> int:
    """The operator's view: broker queue depth, jobs per status, running jobs with worker and
    heartbeat age, recent failures with their errors, renders per worker."""
    import json

    from workers.dispatch import broker_queue_depth

    view = service().queue_overview(broker_queue_depth, failed=args.failed)
    if args.json:
        print(json.dumps(view, indent=2, ensure_ascii=False))
        return EXIT_OK
    depth = view["broker_queue_depth"]
    print(f"broker queue: {depth if depth is not None else 'unreachable (' + str(view['broker_error']) + ')'}")
    print("jobs: " + ", ".join(f"{n} {s}" for s, n in view["counts"].items()))
    print(f"running ({len(view['running'])}):")
    for j in view["running"]:
        age = j["heartbeat_age"]
        flag = "  STALE" if age is not None and age > view["stale_after"] else ""
        print(f"  {j['id']}  {j['worker'] or '?':<28} {j['stage'] or '':<12} {j['percent']:5.1f}%  "
              f"heartbeat {age if age is not None else '?'}s ago  attempt {j['attempts']}{flag}  {(j['title'] or '')[:40]}")
    print(f"failed, newest first ({len(view['failed'])}):")
    for j in view["failed"]:
        print(f"  {j['id']}  {j['finished_at'] or '':<29} attempts {j['attempts']}  {(j['error'] or '')[:100]}")
    print("workers:")
    for w in view["workers"]:
        print(f"  {w['worker']:<30} {w['renders']:5d} renders  {w['render_seconds']:9.1f} s")
    return EXIT_OK


@group.command("health", "check the job store, storage and broker (exit 0 when all answer)")
def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the job store, the storage and the broker answer (for container health checks)."""
    from workers.dispatch import check_broker

    svc = service()
    failed = 0
    for name, fn in (("job store", svc.store.ping), ("storage", svc.storage.check), ("broker", check_broker)):
        try:
            fn()
            print(f"{name}: ok")
        except Exception as e:  # noqa: BLE001 - report any failing dependency
            failed += 1
            print(f"{name}: {type(e).__name__}: {e}")
    return EXIT_RENDER if failed else EXIT_OK
