#!/usr/bin/env bash
# Set up and run the demo shop on the embedded default: SQLite, tasks in-process,
# email to the console. Serves http://127.0.0.1:8000 (admin login printed below).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=config.settings.local
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo
exec .venv/bin/python manage.py runserver "${DEMO_ADDR:-127.0.0.1:8000}"
