"""``videogen bench``: the command's wiring; what it measures and how is in ``bench.py``."""

from __future__ import annotations

import argparse

from videogen.cli.options import Group

group = Group()


def _bench_options(p: argparse.ArgumentParser) -> None:
    from videogen.cli.bench import add_arguments
    from videogen.cli.bench_store import add_arguments as add_store_arguments

    p.add_argument("what", nargs="?", choices=["store"],
                   help="store: the job store at scale (--seed N, --measure) instead of the render")
    add_arguments(p)
    add_store_arguments(p)


@group.command("bench", "measure render speed and memory against the naive MoviePy way and the encoder's floor; "
               "`bench store`: job store seeding and read-path latency",
               _bench_options)
def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "store":
        from videogen.cli.bench_store import main as store_main

        return store_main(args)
    from videogen.cli.bench import main

    return main(args)
