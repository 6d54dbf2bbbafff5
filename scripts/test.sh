#!/usr/bin/env bash
# Set up and run the whole test suite. Uses DATABASE_URL / CELERY_BROKER_URL when
# set (PostgreSQL / Redis); without them the tests that need those are skipped,
# each naming why. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# Browser tests drive Debian's Chromium; install it when we can (root + apt).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "Could not install chromium; browser tests will be skipped." >&2
fi
exec .venv/bin/python -m pytest "$@"
