#!/usr/bin/env bash
# Set up videogen and its test tools on a fresh machine, then run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k render -x).
source "$(dirname "$0")/_env.sh"
install_videogen "[test]"

# Test tools from Debian: ffprobe (ffmpeg) to inspect the output files.
need_apt=()
command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing test tools: ${need_apt[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing test tools: ${need_apt[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
fi

exec "$VPY" -m pytest "$@"
