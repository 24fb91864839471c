#!/usr/bin/env bash
# Makes sure Debian's chromium is installed at /usr/bin/chromium for the
# report's browser test. Installs it with apt-get only when it is missing and
# this runs as root with apt-get available; otherwise says what to do and
# exits 1. Quiet on success: prints nothing when chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi
if [[ "$(id -u)" -ne 0 ]]; then
  echo "ensure-chromium: $CHROMIUM is missing; install Debian's chromium package as root: apt-get install --no-install-recommends chromium" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available; install Chromium so that $CHROMIUM runs" >&2
  exit 1
fi

echo "ensure-chromium: installing Debian's chromium package (this can take a few minutes)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  rm -f "$log"
  echo "ensure-chromium: apt-get could not install chromium (output above)" >&2
  exit 1
fi
rm -f "$log"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "ensure-chromium: the chromium package installed but $CHROMIUM is not there" >&2
  exit 1
fi
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)" >&2
