"""``videogen review``: the editor's actions from the command line, on the same job store as the
API (``list`` the versions waiting for review, ``approve ID``, ``reject ID --reason R``,
``unpublish ID``, ``publish ID``). Recorded as job events by ``cli`` (or ``--by NAME``); the
webhooks go out as from the API."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from videogen.cli.options import EXIT_BAD_INPUT, EXIT_OK, Group, error, job_or_exit, service
from videogen.errors import JobConflict

if TYPE_CHECKING:
    from videogen.service.videos import VideoService

group = Group()


def _actions(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", default="cli", help="who the action is recorded as (default: cli)")
    sub = p.add_subparsers(dest="review_action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="the versions waiting for review, newest first")
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    sub.add_parser("approve", help="publish a version in review (status done)").add_argument("job_id")
    rj = sub.add_parser("reject", help="turn down a version in review, saying why")
    rj.add_argument("job_id")
    rj.add_argument("--reason", required=True, help="why (recorded with the job, at most 2000 characters)")
    sub.add_parser("unpublish", help="take the article's clip off every embed (files kept)").add_argument("job_id")
    sub.add_parser("publish", help="make a done version the published one, or restore an unpublished clip"
                   ).add_argument("job_id")


def _show(svc: VideoService, job_id: str) -> None:
    job = svc.store.get(job_id)
    clip = svc.publishing.clip_of(job)
    print(f"{job.id}  {job.status}  clip {clip.state}" + (f" (version {clip.published})" if clip.state == "published" else ""))


@group.command("review", "editorial review: `review list`, `review approve ID`, `review reject ID --reason R`, "
                         "`review unpublish ID`, `review publish ID`", _actions)
def cmd_review(args: argparse.Namespace) -> int:
    """Act on versions and clips as an editor does on the review page."""
    svc = service()
    if args.review_action == "list":
        for job in svc.store.list(status="review", limit=max(1, min(args.limit, 1000))):
            print(f"{job.id}\t{job.article_id}\t{job.template}\t{job.article.get('title') or ''}")
        return EXIT_OK
    job = job_or_exit(args.job_id, svc.store.get)
    try:
        if args.review_action == "approve":
            svc.approve(job.id, args.by)
        elif args.review_action == "reject":
            svc.reject(job.id, args.by, args.reason)
        elif args.review_action == "unpublish":
            svc.unpublish(job.id, args.by)
        else:
            svc.publish(job.id, args.by)
    except JobConflict as e:
        error(str(e))
        return EXIT_BAD_INPUT
    _show(svc, job.id)
    return EXIT_OK
