"""What the commands share: exit codes, how a command is declared, the options several
commands take (declared once here, listed on each command that takes them), and the small
helpers every service command needs.

A command is a function ``(args) -> exit code`` declared on its module's ``Group`` with the
options it takes, e.g. ``@group.command("status", "show a job", job_id, as_json)``; the
options are functions that add arguments to the command's parser.

Start-up speed: ``videogen --help`` imports only this package, argparse and a few small
modules. Settings, the service, the render core and Celery are imported inside the command
functions that need them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videogen.errors import InvalidInput, JobNotFound
from videogen.outputs import FILES
from videogen.render.config import TTS_CHOICES

if TYPE_CHECKING:
    from videogen.render.article import Article
    from videogen.service.store import Job
    from videogen.service.videos import JobOptions, VideoService

EXIT_OK, EXIT_BAD_INPUT, EXIT_RENDER = 0, 2, 3

Handler = Callable[[argparse.Namespace], int]
Options = Callable[[argparse.ArgumentParser], None]


class CommandExit(Exception):  # noqa: N818 - it is not an error in every case
    """Leave the command now with ``code``, after printing ``message`` as an error."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(message)
        self.code, self.message = code, message


def error(message: str) -> None:
    print(f"videogen: error: {message}", file=sys.stderr)


# --- declaring commands ----------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Handler
    options: tuple[Options, ...]


@dataclass
class Group:
    """The commands of one module, in the order they are declared."""

    commands: list[Command] = field(default_factory=list)

    def command(self, name: str, help: str, *options: Options) -> Callable[[Handler], Handler]:
        def register(run: Handler) -> Handler:
            self.commands.append(Command(name, help, run, options))
            return run

        return register

    def add_parsers(self, sub: Any) -> None:
        """Add a parser per command to ``sub`` (``ArgumentParser.add_subparsers()``)."""
        for c in self.commands:
            p = sub.add_parser(c.name, help=c.help, description=c.run.__doc__ or c.help)
            for add in c.options:
                add(p)


# --- options shared by several commands ----------------------------------------------------

def articles(nargs: str = "+", metavar: str = "ARTICLE.json|BATCH.jsonl") -> Options:
    """The article files (JSON, or JSONL batches) a command reads."""

    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("articles", nargs=nargs, type=Path, metavar=metavar)

    return add


def render_options(p: argparse.ArgumentParser) -> None:
    """How to render: ``render``, ``enqueue`` and ``serve``."""
    p.add_argument("--template", "-t", default="news", help="template name, .toml path or brand folder (see `videogen templates`)")
    p.add_argument("--voice", help="voice id (see `videogen voices`); default: the best for the language")
    p.add_argument("--tts", choices=TTS_CHOICES, default=None, help="narration engine (default auto: offline)")
    p.add_argument("--max-duration", type=float, default=None, help="cap the clip at this many seconds (default 120)")
    p.add_argument("--height", type=int, default=None, help="render smaller than the template, e.g. 360 for a preview")
    p.add_argument("--fps", type=float, default=None, help="override the template's frame rate")


def queue_options(p: argparse.ArgumentParser) -> None:
    """How to queue a job: ``enqueue`` and ``serve``."""
    p.add_argument("--priority", type=int, default=5, choices=range(10), metavar="0-9",
                   help="0 lowest, 9 highest (default 5)")
    p.add_argument("--force", action="store_true", help="render again even if already rendered")
    p.add_argument("--webhook-url", help="POSTed to when a job is done or failed")
    p.add_argument("--publish", choices=("auto", "review"), default="auto",
                   help="auto: live when rendered (default); review: wait for an editor (videogen review approve)")


def job_id(p: argparse.ArgumentParser) -> None:
    p.add_argument("job_id")


def as_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def listen(p: argparse.ArgumentParser) -> None:
    """Where the HTTP API listens: ``api`` and ``serve``."""
    p.add_argument("--host", help="address to listen on (default VIDEOGEN_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default VIDEOGEN_API_PORT, 8000)")


def output_file(p: argparse.ArgumentParser) -> None:
    p.add_argument("--file", default="video.mp4", choices=FILES, help="which file of the job (default video.mp4)")


# --- helpers of the service commands -------------------------------------------------------

def service() -> VideoService:
    """The job service wired to the broker, its job store's schema created if needed."""
    from videogen.settings import get_settings
    from workers.dispatch import make_service

    return make_service(get_settings())


def job_or_exit(job_id: str, lookup: Callable[[str], Job]) -> Job:
    """``lookup(job_id)`` (``svc.store.get``, ``svc.cancel``, ``svc.retry``…), or exit 2 with
    "no job ID" when there is no such job."""
    try:
        return lookup(job_id)
    except JobNotFound:
        raise CommandExit(EXIT_BAD_INPUT, f"no job {job_id}") from None


def finished_or_exit(job: Job) -> Job:
    """``job`` if it is done, or exit 3 saying what it is instead."""
    if job.status != "done" or not job.output:
        raise CommandExit(EXIT_RENDER, f"job {job.id} is {job.status}, not done")
    return job


def read_articles(paths: list[Path]) -> list[Article]:
    """Every article of the given files, checked; a bad one raises InvalidInput (exit 2)."""
    from videogen.render.article import load_articles
    from videogen.settings import get_settings

    limits = get_settings().article_limits()
    return [a for path in paths for a in load_articles(path, limits)]


def job_options(args: argparse.Namespace) -> JobOptions:
    """The options of ``render_options`` and ``queue_options`` as the service's JobOptions; a
    value out of range is bad input (exit 2) naming the option."""
    from pydantic import ValidationError

    from videogen.service.videos import JobOptions

    try:
        return JobOptions(template=args.template, voice=args.voice, tts=args.tts or "auto", priority=args.priority,
                          force=args.force, webhook_url=args.webhook_url, webhook_secret=None,
                          max_duration=args.max_duration, height=args.height, fps=args.fps,
                          publish=getattr(args, "publish", "auto"))
    except ValidationError as e:
        first = e.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "options"
        raise InvalidInput(option, first["msg"]) from None
