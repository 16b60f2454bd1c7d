"""``videogen gc``: apply the retention settings (VIDEOGEN_RETAIN_*) to the job store and the
media once, and report what was reclaimed (``videogen.service.retention``)."""

from __future__ import annotations

import argparse
import json

from videogen.cli.options import EXIT_OK, Group

group = Group()


def _gc_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    p.add_argument("--json", action="store_true", help="print JSON")


@group.command("gc", "delete old job events, failed/cancelled jobs and superseded media per VIDEOGEN_RETAIN_*",
               _gc_options)
def cmd_gc(args: argparse.Namespace) -> int:
    from videogen.service.retention import collect
    from videogen.service.videos import VideoService
    from videogen.settings import get_settings

    settings = get_settings()
    svc = VideoService(settings)
    svc.migrate()
    report = collect(svc.store, svc.storage, settings, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report.as_dict()))
        return EXIT_OK
    verb = "would reclaim" if args.dry_run else "reclaimed"
    print(f"{verb}: {report.events} job event(s), {report.jobs} failed/cancelled job(s), "
          f"{report.media_sets} superseded media set(s) ({report.files} file(s), {report.bytes:,} bytes; "
          f"{report.jobs_unpublished} job(s) lose their media)")
    for e in report.errors:
        print(f"error: {e}")
    if not any((settings.retain_events_days, settings.retain_failed_days, settings.retain_superseded_days)):
        print("nothing is set to expire: set VIDEOGEN_RETAIN_EVENTS_DAYS, VIDEOGEN_RETAIN_FAILED_DAYS or "
              "VIDEOGEN_RETAIN_SUPERSEDED_DAYS")
    return EXIT_OK
