"""``videogen bench``: the command's wiring; what it measures and how is in ``bench.py``."""

from __future__ import annotations

import argparse

from videogen.cli.options import Group

group = Group()


def _bench_options(p: argparse.ArgumentParser) -> None:
    from videogen.cli.bench import add_arguments

    p.add_argument("what", nargs="?", choices=["store"],
                   help="store: the job store at scale (--seed N, --measure) instead of the render")
    add_arguments(p)
    _store_options(p)


def _store_options(p: argparse.ArgumentParser) -> None:
    """The options of `bench store` (declared here: building the parser must not import the
    job store, which `videogen --help` never needs)."""
    p.add_argument("--seed", type=int, metavar="N", help="store: insert N synthetic jobs in bulk, then exit")
    p.add_argument("--measure", action="store_true", help="store: print p50/p99 of each read path")
    p.add_argument("--migration", type=int, metavar="N",
                   help="store: time migration 6 on a fresh store given N v5 jobs, with a writer running")
    p.add_argument("--enqueue", type=int, metavar="N",
                   help="store: N articles through POST /v1/videos batches (job store + broker); prints articles/s")
    p.add_argument("--batch", type=int, default=100, metavar="N", help="store: articles per POST with --enqueue (default 100)")
    p.add_argument("--calls", type=int, default=40, metavar="N", help="store: calls per read path (default 40)")


@group.command("bench", "measure render speed and memory against the naive MoviePy way and the encoder's floor; "
               "`bench store`: job store seeding and read-path latency",
               _bench_options)
def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "store":
        from videogen.cli.bench_store import main as store_main

        return store_main(args)
    from videogen.cli.bench import main

    return main(args)
