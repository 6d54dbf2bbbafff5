#!/usr/bin/env bash
# Set up and run the whole test suite. Uses DATABASE_URL / CELERY_BROKER_URL when
# set (PostgreSQL / Redis); without them the tests that need those are skipped,
# each naming why. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# Browser tests drive Debian's Chromium, the translation tests GNU gettext; install what is
# missing when we can (root + apt).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's ${missing[*]} for the browser and translation tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || echo "Could not install ${missing[*]}; the tests that need them will be skipped." >&2
fi
exec .venv/bin/python -m pytest "$@"
