"""Running the service: ``serve`` (API + workers on this machine, polling feeds), ``api``,
``worker``, ``beat`` (the feed-polling schedule of production)."""

from __future__ import annotations

import argparse
import sys
from typing import IO, TYPE_CHECKING

from videogen.cli.options import (
    EXIT_OK,
    Group,
    articles,
    job_options,
    listen,
    queue_options,
    read_articles,
    render_options,
    service,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from videogen.cli.progress import JobBoard
    from videogen.service.videos import VideoService

group = Group()


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def open_warning(host: str, api_keys: list[str]) -> str | None:
    """The warning to print when the API serves without keys on an address others can reach
    (no keys: anyone who reaches it reads every job and can queue renders)."""
    if api_keys or host in LOOPBACK or host.startswith("127."):
        return None
    return (f"videogen: WARNING: serving on {host} without API keys: anyone who can reach this address can read "
            "every job and queue renders; set VIDEOGEN_API_KEYS (or listen on 127.0.0.1)")


def _make_app(svc: VideoService, host: str | None = None) -> FastAPI:
    """The API app; ``host``, the address it listens on (``--host``), is one it answers to
    (``VIDEOGEN_ALLOWED_HOSTS``' default takes the bind address when it is not a wildcard)."""
    from videogen.http.app import create_app
    from workers.dispatch import default_probe

    probe = default_probe()  # cached depth and check: a burst of reads makes one broker call
    settings = svc.settings.model_copy(update={"api_host": host}) if host else svc.settings
    return create_app(settings, svc, broker_check=probe.check, queue_depth=probe.depth)


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=1, help="worker processes to start (default 1)")
    p.add_argument("--exit-when-done", action="store_true", help="stop once the given articles are rendered")


@group.command("serve", "run the API and a worker here (embedded broker by default) and render the given articles",
               articles(nargs="*"), listen, _serve_options, render_options, queue_options)
def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API and worker(s) on this machine (embedded broker unless VIDEOGEN_BROKER_URL is
    set), queue the given articles and show their progress; keep serving until Ctrl-C (or
    until they are rendered, with --exit-when-done). Job ids go to stdout, the rest to stderr."""
    import os
    import signal
    import subprocess
    import threading

    import uvicorn

    from videogen.cli.jobs import follow_jobs
    from videogen.cli.progress import JobBoard
    from videogen.settings import get_settings

    settings = get_settings()
    batch = read_articles(args.articles)
    options = job_options(args) if batch else None
    host, port = args.host or settings.api_host, args.port or settings.api_port
    board = JobBoard()
    # Workers print one line when ready (no Celery banner); their messages come through the
    # board, so they scroll above the progress bars instead of breaking them.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    workers = [subprocess.Popen([sys.executable, "-m", "videogen.cli", "worker", "--quiet", "--name", f"serve{i}-{os.getpid()}@%h"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
               for i in range(args.workers)]
    relays = [threading.Thread(target=_relay, args=(w.stdout, board), name=f"worker{i}-output", daemon=True)
              for i, w in enumerate(workers)]
    for t in relays:
        t.start()
    svc = service()
    server = uvicorn.Server(uvicorn.Config(_make_app(svc, host), host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    board.print(f"videogen: API on http://{host}:{port}/ (docs /docs), {args.workers} worker(s), "
                f"broker {'embedded' if settings.embedded_broker else settings.broker}"
                + (", polling registered feeds" if settings.feed_poller else ""))
    if warning := open_warning(host, settings.api_key_list):
        board.print(warning)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    code = EXIT_OK
    try:
        if batch and options is not None:
            ids = []
            for article in batch:
                job, _ = svc.enqueue(article, options, local=True)
                ids.append(job.id)
                print(job.id, flush=True)

            def alive() -> str | None:
                dead = [w for w in workers if w.poll() is not None]
                if dead:
                    return f"worker exited with code {dead[0].returncode}"
                return None if thread.is_alive() else "the API stopped"

            code = follow_jobs(svc, ids, board, stop, alive)
            if code == EXIT_OK and not stop.is_set():
                board.print(f"videogen: {len(ids)} article(s) rendered; files in {settings.media_path}")
        if args.exit_when_done:
            return code
        board.print("videogen: serving; press Ctrl-C to stop")
        while not stop.wait(1.0) and thread.is_alive():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        board.update([])  # no bars left behind under what the workers say as they stop
        server.should_exit = True
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        for t in relays:
            t.join(timeout=2)
        thread.join(timeout=10)
    return code


def _relay(stream: IO[str] | None, board: JobBoard) -> None:
    """Print a worker's output through the board, line by line, until the worker exits."""
    if stream is None:
        return
    for line in stream:
        if line.strip():  # Celery frames some messages with blank lines
            board.print(line.rstrip())


@group.command("api", "run the HTTP API", listen)
def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from videogen.settings import get_settings

    settings = get_settings()
    host = args.host or settings.api_host
    if warning := open_warning(host, settings.api_key_list):
        print(warning, file=sys.stderr, flush=True)
    uvicorn.run(_make_app(service(), host), host=host, port=args.port or settings.api_port,
                log_level="info", access_log=False)
    return EXIT_OK


def _worker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--concurrency", type=int, default=None, help="renders at once (default VIDEOGEN_WORKER_CONCURRENCY, 1)")
    p.add_argument("--name", default=None, help="Celery node name (default videogen-PID@host)")
    p.add_argument("--quiet", action="store_true", help="warnings only, and one line when ready instead of Celery's banner")
    p.add_argument("--beat", action="store_true", help="also run the beat that polls the registered feeds (one per deployment)")


@group.command("worker", "run a render worker (Celery; broker from VIDEOGEN_BROKER_URL)", _worker_options)
def cmd_worker(args: argparse.Namespace) -> int:
    from workers.main import run_worker

    service()  # create the job store's schema before the first task arrives
    run_worker(args.name, args.concurrency, "INFO" if not args.quiet else "WARNING", banner=not args.quiet, beat=args.beat)
    return EXIT_OK


@group.command("beat", "run the beat that has workers poll the registered feeds (Celery beat)")
def cmd_beat(args: argparse.Namespace) -> int:
    """Send the feed-polling task every VIDEOGEN_FEED_TICK seconds; workers poll the feeds that
    are due. `videogen serve` needs none: it polls in a thread."""
    from workers.main import run_beat

    service()  # the feed tables exist before the first poll
    run_beat()
    return EXIT_OK
