"""The import-linter contracts in pyproject.toml (STYLE.md, Layout), as .ci/run runs them.

The tree keeps them; a copy of the tree with one forbidden import added breaks them, and
the report names the importing module and the import. Every app of the project is in
the contract, so a new app cannot slip past it.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
ROOTS = CONFIG["root_packages"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_tree_keeps_every_contract():
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


FUNCTION_LOCAL = """

def _later():
    from notifications.models import OutboxMessage

    return OutboxMessage
"""

BREACHES = [
    # An app below reaching one above, even inside a function (grimp reads every import).
    pytest.param(
        "orders/selectors.py",
        FUNCTION_LOCAL,
        "orders is not allowed to import notifications",
        "orders.selectors -> notifications.models",
        1,
        id="upward-function-local",
    ),
    pytest.param(
        "catalog/models.py",
        "\nfrom storefront import urls  # noqa\n",
        "catalog is not allowed to import storefront",
        "catalog.models -> storefront.urls",
        # Also the notifications layers: outbox -> models -> catalog.models -> storefront ->
        # notifications.accounts, a chain from the outbox up to an email.
        2,
        id="upward",
    ),
    # The interface apps are independent of each other.
    pytest.param(
        "storefront/forms.py",
        "\nfrom backoffice import dashboard  # noqa\n",
        "storefront is not allowed to import backoffice",
        "storefront.forms -> backoffice.dashboard",
        1,
        id="sideways",
    ),
    # Settings name apps only as strings.
    pytest.param(
        "config/settings/base.py",
        "\nfrom catalog import models  # noqa\n",
        "config.settings is not allowed to import catalog",
        "config.settings.base -> catalog.models",
        1,
        id="settings",
    ),
    # Inside notifications, the outbox knows no task (it announces messages_written).
    pytest.param(
        "notifications/outbox.py",
        "\nfrom notifications import tasks  # noqa\n",
        "notifications.outbox is not allowed to import notifications.tasks",
        "notifications.outbox -> notifications.tasks",
        1,
        id="notifications-outbox-upward",
    ),
    # A development dependency outside the simulation harness.
    pytest.param(
        "notifications/outbox.py",
        "\nimport time_machine  # noqa\n",
        "notifications is not allowed to import time_machine",
        "notifications.outbox -> time_machine",
        1,
        id="dev-dependency",
    ),
]


@pytest.mark.parametrize("module, added, broken, route, contracts", BREACHES)
def test_one_forbidden_import_breaks_the_contract_and_is_named(
    tmp_path, module, added, broken, route, contracts
):
    for root in ROOTS:
        shutil.copytree(REPO / root, tmp_path / root, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a") as source:
        source.write(added)

    done = lint_imports(tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{contracts} broken" in done.stdout
    assert broken in done.stdout
    assert route in done.stdout


def test_every_app_of_the_project_is_in_the_layers_contract():
    apps = {name.split(".")[0] for name in settings.INSTALLED_APPS}
    ours = {app for app in apps if (REPO / app / "__init__.py").exists()}
    assert set(ROOTS) == ours
    (layers,) = [c for c in CONFIG["contracts"] if c["type"] == "layers" and "containers" not in c]
    layered = {
        name.strip().strip("()").split(".")[0] for layer in layers["layers"] for name in layer.split("|")
    }
    assert ours <= layered
