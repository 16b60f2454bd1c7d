#!/usr/bin/env bash
# Set up videogen on a fresh machine, start the service here (API + a worker, embedded broker:
# no Redis, no Docker) and render the sample articles. Open http://127.0.0.1:8000/ meanwhile.
# Extra arguments go to `videogen serve` (e.g. --exit-when-done, --height 360, --port 8080).
source "$(dirname "$0")/_env.sh"
install_videogen ""
echo "videogen installed; starting the service and rendering the sample articles" >&2
exec .venv/bin/videogen serve examples/articles/*.json examples/articles/hot-news-fr.jsonl "$@"
