"""Articles that arrive by themselves: ``ingest`` (article page or feed URLs → jobs) and
``feeds`` (``add``, ``list``, ``poll``, ``remove``: the feed registry that ``videogen serve``
and ``videogen beat`` poll)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from videogen.cli.options import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_RENDER,
    CommandExit,
    Group,
    error,
    service,
)
from videogen.render.config import TTS_CHOICES

if TYPE_CHECKING:
    from videogen.service.ingest.poller import FeedService

group = Group()


def _render(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template", "-t", action="append", default=None, metavar="T",
                   help="template name; repeat for one clip per template (default news)")
    p.add_argument("--voice", help="voice id (default: the best for the language)")
    p.add_argument("--tts", choices=TTS_CHOICES, default=None, help="narration engine (default auto: offline)")
    p.add_argument("--height", type=int, default=None, help="render smaller than the template, e.g. 360")
    p.add_argument("--priority", type=int, default=5, choices=range(10), metavar="0-9", help="0 lowest, 9 highest (default 5)")


def _ingest_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="+", metavar="URL", help="article page or feed (RSS, Atom, JSON Feed)")
    _render(p)
    p.add_argument("--force", action="store_true", help="render again even if already rendered")
    p.add_argument("--wait", action="store_true", help="wait for the renders, with progress bars on stderr")


def _feeds() -> FeedService:
    from videogen.service.ingest.poller import FeedService

    return FeedService(service())


def _config(args: argparse.Namespace, base: dict[str, Any] | None = None) -> Any:
    from pydantic import ValidationError

    from videogen.errors import InvalidInput
    from videogen.service.ingest.registry import FeedConfig

    data: dict[str, Any] = dict(base or {})
    if getattr(args, "template", None):
        data["templates"] = args.template
    opts = {k: getattr(args, k, None) for k in ("voice", "tts", "height")}
    opts = {k: v for k, v in opts.items() if v is not None}
    if getattr(args, "priority", 5) != 5:
        opts["priority"] = args.priority
    if opts:
        data["options"] = {**data.get("options", {}), **opts}
    if getattr(args, "every", None) is not None:
        data["every"] = args.every
    if getattr(args, "language", None):
        data["policy"] = {**data.get("policy", {}), "languages": args.language}
    if getattr(args, "review", False):
        data["publish"] = "review"
    if getattr(args, "item_content", None):
        data["item_content"] = args.item_content
    if getattr(args, "max_items", None):
        data["max_items"] = args.max_items
    try:
        return FeedConfig.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = [str(p) for p in first["loc"]]
        name = {"every": "--every", "templates": "--template", "policy": "--language"}.get(loc[0] if loc else "", "options")
        raise InvalidInput(name, first["msg"]) from None


@group.command("ingest", "enqueue the article(s) of page or feed URLs; prints job ids", _ingest_options)
def cmd_ingest(args: argparse.Namespace) -> int:
    """Fetch each URL (an article page or a feed), extract its article(s) and queue one job per
    template. Exit 2, queueing nothing, for a URL that is neither a feed nor an article page,
    a broken feed, a 404 or a page with no article."""
    from videogen.cli.jobs import follow_jobs
    from videogen.errors import InvalidInput, TransientNetError

    feeds = _feeds()
    config = _config(args)
    extra = {"force": True} if args.force else {}
    try:
        jobs, skipped = feeds.ingest(args.urls, config, extra, local=True)
    except InvalidInput as e:
        raise CommandExit(EXIT_BAD_INPUT, str(e)) from None
    except TransientNetError as e:
        raise CommandExit(EXIT_RENDER, f"{e} (try again later)") from None
    for o in skipped:
        print(f"videogen: skipped {o.title or o.link}: {o.reason}", file=sys.stderr)
    for job in jobs:
        print(job.id, flush=True)
    return follow_jobs(feeds.videos, [j.id for j in jobs]) if args.wait else EXIT_OK


def _feeds_options(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="feeds_action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="register a feed (polled by `videogen serve` or `videogen beat`)")
    add.add_argument("url", metavar="URL")
    add.add_argument("--every", type=float, default=None, metavar="SECONDS", help="seconds between polls (at least 5; default 300)")
    _render(add)
    add.add_argument("--language", "-l", action="append", default=None, metavar="L", help="only items in this language (repeatable)")
    add.add_argument("--review", action="store_true", help="publish mode 'review' (stored for editorial review; clips publish until it exists)")
    add.add_argument("--item-content", choices=("auto", "feed", "page"), default=None,
                     help="auto: the item's text unless it is a teaser, then its page (default); feed; page")
    add.add_argument("--max-items", type=int, default=None, help="newest items taken per poll (default VIDEOGEN_FEED_MAX_ITEMS, 20)")
    ls = sub.add_parser("list", help="registered feeds and their state")
    ls.add_argument("--json", action="store_true", help="print JSON")
    poll = sub.add_parser("poll", help="poll a feed now (every feed without ID); prints the new job ids")
    poll.add_argument("feed_id", nargs="?", metavar="ID")
    rm = sub.add_parser("remove", help="forget a feed (its jobs stay)")
    rm.add_argument("feed_id", metavar="ID")


@group.command("feeds", "the feeds polled for new articles: add, list, poll, remove", _feeds_options)
def cmd_feeds(args: argparse.Namespace) -> int:
    """Manage the feed registry: ``add URL``, ``list``, ``poll [ID]``, ``remove ID``."""
    from videogen.service.ingest.poller import feed_view
    from videogen.service.ingest.registry import FeedNotFound

    feeds = _feeds()
    try:
        if args.feeds_action == "add":
            from videogen.errors import NetError
            from videogen.net import check_url
            from videogen.service.videos import check_template_name

            try:
                check_url(args.url)
            except NetError as e:
                raise CommandExit(EXIT_BAD_INPUT, f"URL: {e}") from None
            config = _config(args)
            for name in config.templates:
                check_template_name(name, feeds.settings.templates_dirs)
            feed, created = feeds.registry.add(args.url, config)
            print(feed.id)
            if not created:
                print(f"videogen: {args.url} is already registered as feed {feed.id}", file=sys.stderr)
            return EXIT_OK
        if args.feeds_action == "list":
            views = [feed_view(f) for f in feeds.registry.all()]
            if args.json:
                print(json.dumps(views, indent=2, ensure_ascii=False))
                return EXIT_OK
            for v in views:
                print(f"{v['id']}  {v['state']:<7}  every {v['every']:g}s  {v['items_seen']:4d} items  "
                      f"{v['last_status'] or 'never polled'}  {v['url']}")
                if v["last_error"]:
                    print(f"    last error: {v['last_error']}")
            return EXIT_OK
        if args.feeds_action == "poll":
            ids = [args.feed_id] if args.feed_id else [f.id for f in feeds.registry.all()]
            failed = 0
            for feed_id in ids:
                r = feeds.poll(feed_id, force=True)
                counts = ", ".join(f"{n} {s}" for s, n in r.summary()["counts"].items()) or "no new item"
                print(f"videogen: feed {feed_id}: {r.status} ({counts})" + (f": {r.error}" if r.error else ""), file=sys.stderr)
                for o in r.items:
                    if o.status in ("skipped", "failed"):
                        print(f"videogen:   {o.status} {o.title or o.link}: {o.reason}", file=sys.stderr)
                for j in r.job_ids:
                    print(j, flush=True)
                failed += r.status == "failed"
            return EXIT_RENDER if failed else EXIT_OK
        if args.feeds_action == "remove":
            feeds.registry.remove(args.feed_id)
            print(f"{args.feed_id} removed")
            return EXIT_OK
    except FeedNotFound as e:
        raise CommandExit(EXIT_BAD_INPUT, str(e)) from None
    error(f"unknown action {args.feeds_action}")
    return EXIT_BAD_INPUT
