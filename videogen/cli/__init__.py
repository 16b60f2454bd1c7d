"""The ``videogen`` command. Thin: parses arguments, calls the library, turns errors into
messages and exit codes (0 ok, 2 bad input, 3 render or service failure).

One module per group of commands: ``render`` (render, templates, voices), ``jobs`` (enqueue,
status, download, cancel, retry, snippet, queue, health), ``feeds`` (ingest, feeds), ``lexicon``, ``review`` (list, approve, reject, unpublish, publish), ``serve`` (serve, api, worker) and
``bench_command``, ``gc``; the options several commands share are declared once in ``options``."""

from __future__ import annotations

import argparse
import logging
import sys

from videogen import __version__
from videogen.cli import bench_command, feeds, gc, jobs, lexicon, render, review, serve
from videogen.cli.options import EXIT_BAD_INPUT, EXIT_OK, EXIT_RENDER, CommandExit, Handler, error
from videogen.errors import InvalidInput, VideogenError

__all__ = ["COMMANDS", "EXIT_BAD_INPUT", "EXIT_OK", "EXIT_RENDER", "build_parser", "main"]

GROUPS = (render.group, jobs.group, feeds.group, lexicon.group, review.group, serve.group, bench_command.group, gc.group)

#: Every command by name.
COMMANDS: dict[str, Handler] = {c.name: c.run for g in GROUPS for c in g.commands}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="videogen", description="Turn news articles into short narrated video clips.")
    p.add_argument("--version", action="version", version=f"videogen {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for g in GROUPS:
        g.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except CommandExit as e:
        if e.message:
            error(e.message)
        return e.code
    except InvalidInput as e:
        error(str(e))
        return EXIT_BAD_INPUT
    except VideogenError as e:
        error(str(e))
        return EXIT_RENDER
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:  # `videogen voices | head`
        sys.stderr.close()
        return EXIT_OK
