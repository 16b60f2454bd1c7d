"""The ``videogen`` command. Thin: parses arguments, calls the library, turns errors into
messages and exit codes (0 ok, 2 bad input, 3 render or service failure)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from videogen import __version__
from videogen.errors import InvalidInput, VideogenError
from videogen.outputs import FILES
from videogen.render.config import TTS_CHOICES
from videogen.settings import get_settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_RENDER = 0, 1, 2, 3

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def deco(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return deco


def _error(message: str) -> None:
    print(f"videogen: error: {message}", file=sys.stderr)


# --- render ---------------------------------------------------------------------------------

@command("render")
def cmd_render(args: argparse.Namespace) -> int:
    from videogen.cli.progress import ProgressBar
    from videogen.render.article import load_articles
    from videogen.render.keys import video_id
    from videogen.render.pipeline import RenderOptions, render_article
    from videogen.render.templates import load_template

    settings = get_settings()
    # Validate everything before rendering anything: a bad file renders nothing.
    try:
        load_template(args.template, settings.templates_dir)
        batches = [(path, load_articles(path, settings.article_limits())) for path in args.articles]
    except InvalidInput as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    options = RenderOptions(
        template=args.template, voice=args.voice, tts=args.tts, max_duration=args.max_duration,
        height=args.height, fps=args.fps, engine=args.engine, allow_outside_paths=args.allow_outside_paths,
    )
    out_root = Path(args.out)
    failures = 0
    for path, articles in batches:
        for article in articles:
            vid = video_id(article, args.template)
            bar = ProgressBar(vid) if not args.quiet else None
            try:
                result = render_article(article, options, out_root / vid, settings.render_config(), progress=bar)
            except InvalidInput as e:
                if bar:
                    bar.fail(str(e))
                _error(f"{path}: {e}")
                return EXIT_BAD_INPUT
            except VideogenError as e:
                if bar:
                    bar.fail(str(e))
                _error(f"{path}: {article.id}: {e}")
                failures += 1
                continue
            m = result.manifest
            if bar:
                bar.done(f"{m['duration']:.1f}s clip, {m['narration']['voice']}")
            for w in m["warnings"]:
                print(f"videogen: warning: {article.id}: {w}", file=sys.stderr)
            print(result.out_dir)
    return EXIT_RENDER if failures else EXIT_OK


# --- listings -------------------------------------------------------------------------------

@command("templates")
def cmd_templates(args: argparse.Namespace) -> int:
    from videogen.render.templates import available_templates, load_template

    settings = get_settings()
    for name in available_templates(settings.templates_dir):
        t = load_template(name, settings.templates_dir)
        print(f"{t.name:<10} {t.width}x{t.height} {t.aspect:<5} {t.fps:g} fps  {t.description}")
    return EXIT_OK


@command("voices")
def cmd_voices(args: argparse.Namespace) -> int:
    from videogen.render.narration import NarrationChain
    from videogen.render.text.normalize import speaks_numbers

    chain = NarrationChain.from_config(get_settings().render_config())
    voices = chain.voices()
    langs = sorted({v.language for v in voices})
    if args.language:
        langs = [args.language.split("-")[0].lower()]
    print(f"{'lang':<5} {'default (auto)':<30} {'engine voice':<22} {'offline':<8} {'numbers':<8} all voices")
    for lang in langs:
        here = sorted((v for v in voices if v.language == lang), key=lambda v: -v.quality)
        if not here:
            print(f"{lang:<5} {'(none: unsupported)':<30}")
            continue
        offline = [v for v in here if v.offline]
        default = offline[0] if offline else None
        detail = _engine_voice(default) if default else "-"
        numbers = "words" if speaks_numbers(lang) else "digits"
        others = ", ".join(v.voice_id + ("" if v.offline else " (online)") for v in here)
        print(f"{lang:<5} {default.voice_id if default else '(none offline)':<30} {detail:<22} "
              f"{'yes' if offline else 'no':<8} {numbers:<8} {others}")
    return EXIT_OK


# --- service ---------------------------------------------------------------------------------

def _service():  # type: ignore[no-untyped-def]
    from workers.dispatch import make_service

    return make_service(get_settings())


def _job_options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from videogen.service.videos import JobOptions

    return JobOptions(template=args.template, voice=args.voice, tts=args.tts or "auto", priority=args.priority,
                      force=args.force, webhook_url=args.webhook_url, max_duration=args.max_duration,
                      height=args.height, fps=args.fps)


@command("enqueue")
def cmd_enqueue(args: argparse.Namespace) -> int:
    from videogen.render.article import load_articles

    try:
        articles = [a for path in args.articles for a in load_articles(path, get_settings().article_limits())]
        options = _job_options(args)
    except InvalidInput as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    svc = _service()
    for article in articles:  # check the whole batch before queueing any of it
        svc.check(article, options, local=True)
    jobs = []
    for article in articles:
        job, created = svc.enqueue(article, options, local=True)
        jobs.append(job)
        print(job.id, flush=True)
        if not created:
            print(f"videogen: {article.id}: already {job.status} as job {job.id} (use --force to render again)", file=sys.stderr)
    if not args.wait:
        return EXIT_OK
    return _wait(svc, [j.id for j in jobs])


def _wait(svc, job_ids: list[str], stop=None, alive=None) -> int:  # type: ignore[no-untyped-def]
    """Show progress until every job is finished; ``alive()`` returning a message stops early."""
    import time

    from videogen.cli.progress import ProgressBar

    bars = {}
    pending = set(job_ids)
    failed = 0
    while pending and not (stop and stop.is_set()):
        problem = alive() if alive else None
        if problem:
            _error(f"{problem}; {len(pending)} job(s) left queued (they are kept and will render later)")
            return EXIT_RENDER
        for job_id in sorted(pending):
            job = svc.store.get(job_id)
            bar = bars.setdefault(job_id, ProgressBar(f"{job.article_id[:22]} {job_id[:8]}"))
            bar.update(job.stage or job.status, job.percent / 100)
            if job.finished:
                pending.discard(job_id)
                if job.status == "done":
                    bar.done(f"{job.duration:.1f}s clip, {job.engine}")
                else:
                    failed += 1
                    bar.fail(f"{job.status}: {job.error or ''}")
        time.sleep(0.5)
    return EXIT_RENDER if failed else EXIT_OK


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    import json

    from videogen.errors import JobNotFound
    from videogen.service.videos import public_job

    svc = _service()
    try:
        job = svc.store.get(args.job_id)
    except JobNotFound:
        _error(f"no job {args.job_id}")
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(public_job(job, get_settings().public_url.rstrip("/")), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{job.id}  {job.status}  {job.stage or ''} {job.percent:.0f}%  {job.article_id}  {job.template}")
    if job.error:
        print(f"error: {job.error}")
    if job.status == "done":
        print(f"{job.duration:.1f}s clip, spoken by {job.engine}, rendered in {job.render_seconds:.1f}s by {job.worker}")
    return EXIT_OK


@command("download")
def cmd_download(args: argparse.Namespace) -> int:
    import os
    import tempfile

    from videogen.errors import JobNotFound

    svc = _service()
    try:
        job = svc.store.get(args.job_id)
    except JobNotFound:
        _error(f"no job {args.job_id}")
        return EXIT_BAD_INPUT
    if job.status != "done" or not job.output:
        _error(f"job {job.id} is {job.status}, not done")
        return EXIT_RENDER
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in svc.storage.read(job.output, args.file):
                f.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(target)
    return EXIT_OK


@command("snippet")
def cmd_snippet(args: argparse.Namespace) -> int:
    """Print the HTML block an article page pastes under the story (as GET /v1/videos/ID/snippet)."""
    from videogen.http.pages import Pages

    settings = get_settings()
    pages = Pages(settings, _service())
    job = pages.job(args.job_id)
    if job is None:
        _error(f"no job {args.job_id}")
        return EXIT_BAD_INPUT
    if job.status != "done" or not job.output:
        _error(f"job {job.id} is {job.status}, not done")
        return EXIT_RENDER
    base = (args.base_url or "").rstrip("/") or pages.base()
    print(pages.snippet(job, base))
    return EXIT_OK


@command("cancel")
def cmd_cancel(args: argparse.Namespace) -> int:
    from videogen.errors import JobNotFound

    try:
        job = _service().cancel(args.job_id)
    except JobNotFound:
        _error(f"no job {args.job_id}")
        return EXIT_BAD_INPUT
    print(f"{job.id} {job.status}")
    return EXIT_OK if job.status == "cancelled" else EXIT_RENDER


@command("queue")
def cmd_queue(args: argparse.Namespace) -> int:
    """The operator's view: broker queue depth, jobs per status, running jobs with worker and
    heartbeat age, recent failures with their errors, renders per worker."""
    import json

    from workers.dispatch import broker_queue_depth

    view = _service().queue_overview(broker_queue_depth, failed=args.failed)
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


@command("retry")
def cmd_retry(args: argparse.Namespace) -> int:
    from videogen.errors import JobConflict, JobNotFound

    try:
        job = _service().retry(args.job_id)
    except JobNotFound:
        _error(f"no job {args.job_id}")
        return EXIT_BAD_INPUT
    except JobConflict as e:
        _error(str(e))
        return EXIT_RENDER
    print(f"{job.id} {job.status}")
    return EXIT_OK


@command("health")
def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the job store, the storage and the broker answer (for container health checks)."""
    from workers.dispatch import check_broker

    svc = _service()
    failed = 0
    for name, fn in (("job store", svc.store.ping), ("storage", svc.storage.check), ("broker", check_broker)):
        try:
            fn()
            print(f"{name}: ok")
        except Exception as e:  # noqa: BLE001 - report any failing dependency
            failed += 1
            print(f"{name}: {type(e).__name__}: {e}")
    return EXIT_RENDER if failed else EXIT_OK


@command("worker")
def cmd_worker(args: argparse.Namespace) -> int:
    from workers.main import run_worker

    _service()  # create the job store's schema before the first task arrives
    run_worker(args.name, args.concurrency, "INFO" if not args.quiet else "WARNING")
    return EXIT_OK


def _make_app(settings):  # type: ignore[no-untyped-def]
    from videogen.http.app import create_app
    from workers.dispatch import broker_queue_depth, check_broker

    return create_app(settings, _service(), broker_check=check_broker, queue_depth=broker_queue_depth)


@command("api")
def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(_make_app(settings), host=args.host or settings.api_host, port=args.port or settings.api_port,
                log_level="info", access_log=False)
    return EXIT_OK


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    """API + worker(s) on this machine, embedded broker by default; renders the given articles."""
    import os
    import signal
    import subprocess
    import threading

    import uvicorn

    from videogen.render.article import load_articles

    settings = get_settings()
    try:
        articles = [a for path in args.articles for a in load_articles(path, get_settings().article_limits())]
    except InvalidInput as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    host, port = args.host or settings.api_host, args.port or settings.api_port
    env = dict(os.environ)
    workers = [subprocess.Popen([sys.executable, "-m", "videogen.cli", "worker", "--quiet", "--name", f"serve{i}-{os.getpid()}@%h"], env=env,
                                stdout=sys.stderr)  # stdout carries only job ids
               for i in range(args.workers)]
    server = uvicorn.Server(uvicorn.Config(_make_app(settings), host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    print(f"videogen: API on http://{host}:{port}/ (docs /docs), {args.workers} worker(s), "
          f"broker {'embedded' if settings.embedded_broker else settings.broker}", file=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    code = EXIT_OK
    try:
        if articles:
            svc = _service()
            options = _job_options(args)
            ids = []
            for article in articles:
                job, _ = svc.enqueue(article, options, local=True)
                ids.append(job.id)
                print(job.id, flush=True)
            def alive() -> str | None:
                dead = [w for w in workers if w.poll() is not None]
                if dead:
                    return f"worker exited with code {dead[0].returncode}"
                return None if thread.is_alive() else "the API stopped"

            code = _wait(svc, ids, stop, alive)
            if code == EXIT_OK and not stop.is_set():
                print(f"videogen: {len(ids)} article(s) rendered; files in {settings.media_path}", file=sys.stderr)
        if args.exit_when_done:
            return code
        print("videogen: serving; press Ctrl-C to stop", file=sys.stderr)
        while not stop.wait(1.0) and thread.is_alive():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.should_exit = True
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        thread.join(timeout=10)
    return code


def _service_parsers(sub) -> None:  # type: ignore[no-untyped-def]
    def render_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--template", "-t", default="news")
        p.add_argument("--voice")
        p.add_argument("--tts", choices=TTS_CHOICES, default=None)
        p.add_argument("--priority", type=int, default=5, choices=range(10), metavar="0-9")
        p.add_argument("--force", action="store_true", help="render again even if already rendered")
        p.add_argument("--webhook-url")
        p.add_argument("--max-duration", type=float)
        p.add_argument("--height", type=int, help="render smaller than the template (previews)")
        p.add_argument("--fps", type=float)

    e = sub.add_parser("enqueue", help="queue article files (JSON or JSONL) for the workers; prints job ids")
    e.add_argument("articles", nargs="+", type=Path, metavar="ARTICLE.json|BATCH.jsonl")
    render_opts(e)
    e.add_argument("--wait", action="store_true", help="wait for the renders, with progress bars on stderr")

    s = sub.add_parser("status", help="show a job")
    s.add_argument("job_id")
    s.add_argument("--json", action="store_true")

    d = sub.add_parser("download", help="save a finished job's file")
    d.add_argument("job_id")
    d.add_argument("--output", "-o", required=True, help="where to write it")
    d.add_argument("--file", default="video.mp4", choices=FILES)

    sn = sub.add_parser("snippet", help="print a finished job's HTML snippet for article pages (video + JSON-LD)")
    sn.add_argument("job_id")
    sn.add_argument("--base-url", help="public URL of the API for the links (default VIDEOGEN_PUBLIC_URL, "
                                       "else http://API_HOST:API_PORT)")

    c = sub.add_parser("cancel", help="cancel a queued or rendering job")
    c.add_argument("job_id")

    q = sub.add_parser("queue", help="operator's view: queue depth, running jobs (worker, heartbeat age), failures")
    q.add_argument("--json", action="store_true")
    q.add_argument("--failed", type=int, default=20, help="how many recent failures to show (default 20)")

    rt = sub.add_parser("retry", help="queue a failed or cancelled job again (same id, attempts reset)")
    rt.add_argument("job_id")

    w = sub.add_parser("worker", help="run a render worker (Celery; broker from VIDEOGEN_BROKER_URL)")
    w.add_argument("--concurrency", type=int, default=None)
    w.add_argument("--name", default=None, help="Celery node name (default videogen-PID@host)")
    w.add_argument("--quiet", action="store_true")

    sub.add_parser("health", help="check the job store, storage and broker (exit 0 when all answer)")

    a = sub.add_parser("api", help="run the HTTP API")
    a.add_argument("--host")
    a.add_argument("--port", type=int)

    sv = sub.add_parser("serve", help="run the API and a worker here (embedded broker by default) and render the given articles")
    sv.add_argument("articles", nargs="*", type=Path, metavar="ARTICLE.json|BATCH.jsonl")
    sv.add_argument("--host")
    sv.add_argument("--port", type=int)
    sv.add_argument("--workers", type=int, default=1)
    sv.add_argument("--exit-when-done", action="store_true", help="stop once the given articles are rendered")
    render_opts(sv)


def _engine_voice(v) -> str:  # type: ignore[no-untyped-def]
    """What speaks inside the engine: espeak-ng's voice file (``sit/cmn`` for Chinese), the
    Piper model, or gTTS's language code."""
    if v.engine == "espeak":
        return f"espeak-ng {v.extra.get('espeak_voice', '?')}"
    if v.engine == "piper" and v.model_path is not None:
        return f"piper {v.model_path.name[: -len('.onnx')]}"[:22]
    return v.voice_id


# --- bench ----------------------------------------------------------------------------------

@command("bench")
def cmd_bench(args: argparse.Namespace) -> int:
    from videogen.cli.bench import main as bench_main

    return bench_main(args)


# --- parser ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="videogen", description="Turn news articles into short narrated video clips.")
    p.add_argument("--version", action="version", version=f"videogen {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("render", help="render article JSON files (or JSONL batches) into out/<video id>/")
    r.add_argument("articles", nargs="+", type=Path, metavar="ARTICLE.json")
    r.add_argument("--template", "-t", default="news", help="template name or .toml path (see `videogen templates`)")
    r.add_argument("--voice", help="voice id (see `videogen voices`); default: the best for the language")
    r.add_argument("--tts", choices=TTS_CHOICES, default=None, help="narration engine (default auto: offline)")
    r.add_argument("--out", "-o", default="out", help="output folder (default ./out)")
    r.add_argument("--max-duration", type=float, default=None, help="cap the clip at this many seconds (default 120)")
    r.add_argument("--height", type=int, default=None, help="render smaller than the template, e.g. 360 for a preview")
    r.add_argument("--fps", type=float, default=None, help="override the template's frame rate")
    r.add_argument("--engine", choices=["fast", "moviepy"], default="fast", help="frame writer (moviepy: MoviePy's own, slower)")
    r.add_argument("--allow-outside-paths", action="store_true", help="let image paths leave the article's folder")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    sub.add_parser("templates", help="list templates")
    v = sub.add_parser("voices", help="list voices per language and which are offline")
    v.add_argument("--language", "-l", help="only this language")
    _service_parsers(sub)
    from videogen.cli.bench import add_arguments as bench_arguments

    bench_arguments(sub.add_parser("bench", help="measure render speed and memory against the naive MoviePy way and the encoder's floor"))
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except InvalidInput as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    except VideogenError as e:
        _error(str(e))
        return EXIT_RENDER
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:  # `videogen voices | head`
        sys.stderr.close()
        return EXIT_OK

