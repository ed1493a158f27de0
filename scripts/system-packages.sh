#!/usr/bin/env bash
# Make sure the system packages Absentia needs are present:
#   - PostgreSQL server binaries (initdb, pg_ctl): the test suite starts a real server;
#   - pango (WeasyPrint's text layout) and the Noto CJK fonts for PDF reports;
#   - poppler-utils (pdfsig, pdftoppm): an independent check of signed reports;
#   - chromium and chromium-driver: the browser tests use a real headless browser;
#   - wrk: the load generator of the public pages' benchmark.
#   - libfaketime: the fault tests (make faults) step the services' clocks.
#   - softhsm2: a software PKCS#11 token, so the HSM key tests run against a real module.
#   - openssl: its command line checks our SM2 signatures (the 国密 option's tests).
# Installs them with apt-get when running as root, otherwise prints the exact command.
set -euo pipefail

missing=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
# grep reads all its input (no -q): with pipefail, a grep that quits at the first match
# leaves the lister killed by SIGPIPE, and the pipeline "fails" for a package that is there.
if ! ldconfig -p 2>/dev/null | grep 'libpango-1.0.so' >/dev/null; then
  missing+=(libpango-1.0-0 libpangoft2-1.0-0)
fi
if ! fc-list 2>/dev/null | grep -i 'Noto Sans CJK' >/dev/null; then
  missing+=(fonts-noto-cjk fontconfig)
fi
if ! command -v pdfsig >/dev/null 2>&1; then
  missing+=(poppler-utils)
fi
if ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
if ! command -v chromedriver >/dev/null 2>&1; then
  missing+=(chromium-driver)
fi
if ! command -v wrk >/dev/null 2>&1; then
  missing+=(wrk)  # the public pages' load benchmark
fi
if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
  missing+=(libfaketime)  # the fault tests' clock steps
fi
if ! command -v softhsm2-util >/dev/null 2>&1; then
  missing+=(softhsm2)  # the PKCS#11 key tests' token (libsofthsm2.so)
fi
if ! command -v openssl >/dev/null 2>&1; then
  missing+=(openssl)  # an independent SM2 verifier (tests/functional/test_sm2_*.py)
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
