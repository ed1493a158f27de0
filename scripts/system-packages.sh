#!/usr/bin/env bash
# Make sure the system packages Absentia needs are present:
#   - PostgreSQL server binaries (initdb, pg_ctl): the test suite starts a real server;
#   - pango (WeasyPrint's text layout) for PDF reports.
# Installs them with apt-get when running as root, otherwise prints the exact command.
set -euo pipefail

missing=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so'; then
  missing+=(libpango-1.0-0 libpangoft2-1.0-0)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "system packages missing: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing them with apt-get ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
else
  echo "Run this, then try again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
