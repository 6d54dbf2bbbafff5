"""The simulation is a development harness: what production runs never loads it.

A fresh interpreter starts the site as the web and worker processes do (WSGI app, every
URL, the admin, every Celery task) and loads the shop's management commands, simulate_shop
included (as ``simulate_shop --help`` does); time_machine, django.test and the harness
must still be absent. Only running simulate_shop loads them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV_ONLY = ("time_machine", "django.test", "backoffice.simulation")

START_THE_SITE = """
import json, sys
from django.core.wsgi import get_wsgi_application

get_wsgi_application()  # django.setup(): every app, every admin module
from django.urls import get_resolver

get_resolver().reverse_dict  # config.urls and every view module it names
from config.celery_app import app

app.loader.import_default_modules()  # every tasks module, as a worker does
from django.core.management import get_commands, load_command_class

for name, app_name in get_commands().items():
    if not app_name.startswith("django."):  # Django's own `test` command loads django.test
        load_command_class(app_name, name)
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(code: str) -> set[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_starting_the_site_and_loading_its_commands_never_loads_the_simulation():
    loaded = _modules_after(START_THE_SITE)
    assert "backoffice.management.commands.simulate_shop" in loaded
    assert "backoffice.admin_site" in loaded
    assert [m for m in DEV_ONLY if m in loaded] == []
