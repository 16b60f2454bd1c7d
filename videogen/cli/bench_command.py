"""``videogen bench``: the command's wiring; what it measures and how is in ``bench.py``."""

from __future__ import annotations

import argparse

from videogen.cli.options import Group

group = Group()


def _bench_options(p: argparse.ArgumentParser) -> None:
    from videogen.cli.bench import add_arguments

    add_arguments(p)


@group.command("bench", "measure render speed and memory against the naive MoviePy way and the encoder's floor",
               _bench_options)
def cmd_bench(args: argparse.Namespace) -> int:
    from videogen.cli.bench import main

    return main(args)
