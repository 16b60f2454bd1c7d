#!/usr/bin/env bash
# Set up videogen on a fresh machine and render the sample articles into ./out.
source "$(dirname "$0")/_env.sh"
install_videogen ""
echo "videogen installed; rendering the sample articles into ./out" >&2
exec .venv/bin/videogen render examples/articles/*.json examples/articles/hot-news-fr.jsonl --out out "$@"
