"""Real Celery worker and beat processes for tests, started the way production runs
them (``celery -A config worker``) on the test broker and the pytest-django test
database; the ``celery_workers`` fixture (tests/conftest.py) starts and stops them."""

import ast
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from config.celery_app import app

REPO = Path(__file__).resolve().parents[1]
CELERY = Path(sys.executable).with_name("celery")
# A killed worker's unacknowledged job is handed out again after this many seconds
# (kombu looks for such jobs when a worker starts, then every CELERY_RESTORE_SECONDS).
VISIBILITY_TIMEOUT = 3
# Test workers look only at start-up (a running worker would otherwise hand out again,
# mid-test, any job of its own running longer than the short timeout above); a test that
# restarts a worker and waits for the periodic look passes RESTORE_SECONDS.
RESTORE_SECONDS = 1
NO_PERIODIC_RESTORE = 24 * 3600
READY_TIMEOUT = 30.0


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}", pytrace=False)
        time.sleep(interval)


# -- Real worker and beat processes. --


def worker_database_url() -> str:
    """DATABASE_URL of the pytest-django test database (as named inside the test process)."""
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db.get("HOST") or "", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{quote(db['NAME'], safe='')}"


class CeleryProcess:
    """A celery worker or beat in its own process group, logging to a file."""

    def __init__(self, *, kind: str, args: list[str], env: dict[str, str], log: Path, name: str):
        self.kind, self.name, self.log = kind, name, log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(CELERY), "-A", "config", kind, *args],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool children die with it
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def received(self, task: str) -> list[str]:
        """Ids of the ``task`` jobs this worker took off the broker (its "received" lines;
        the task names it lists at start-up do not count)."""
        return re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", self.output())

    def results(self, task: str) -> dict[str, list]:
        """Return values of the ``task`` jobs this worker finished, by job id, in the order
        they finished (a job handed out twice has two)."""
        pattern = rf"Task {re.escape(task)}\[([0-9a-f-]+)\] succeeded in [0-9.e-]+s: (.*)"
        found: dict[str, list] = {}
        for job, value in re.findall(pattern, self.output()):
            found.setdefault(job, []).append(ast.literal_eval(value))
        return found

    def _killpg(self, sig: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole group (the prefork parent and its children) at once."""
        self._killpg(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """The test is over: no need to wait seconds for a warm or cold shutdown.

        A killed worker's database sessions end with it (PostgreSQL rolls back what
        they had open), and the fixture purges what it left on the broker.
        """
        self.kill()  # the group, so pool children a dead parent left behind go too


class CeleryProcesses:
    """Starts workers (and beat) for one test and stops every one of them afterwards."""

    def __init__(self, *, broker_url: str, folder: Path):
        self.broker_url, self.folder = broker_url, folder
        self.started: list[CeleryProcess] = []
        self.import_dir = folder / "restock-inbox"
        self.import_dir.mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=worker_database_url(),
            CELERY_BROKER_URL=self.broker_url,
            CELERY_TASK_ALWAYS_EAGER="false",
            CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
            CELERY_RESTORE_SECONDS=str(NO_PERIODIC_RESTORE),
            # Never the repository's own inbox: the scheduled import would apply its files.
            RESTOCK_IMPORT_DIR=str(self.import_dir),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def _log(self, kind: str) -> Path:
        return self.folder / f"{kind}-{len(self.started) + 1}.log"

    def worker(self, *, pool: str = "prefork", **extra_env: str) -> CeleryProcess:
        """Start a worker (concurrency 1) and wait until it answers a ping."""
        name = f"restock-test-{uuid.uuid4().hex[:8]}@%h"
        args = [
            f"--pool={pool}",
            "--concurrency=1",
            "--loglevel=info",
            f"--hostname={name}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        worker = CeleryProcess(
            kind="worker", args=args, env=self.env(**extra_env), log=self._log("worker"), name=name
        )
        self.started.append(worker)
        node = name.replace("%h", os.uname().nodename)

        def ready():
            if not worker.alive():
                pytest.fail(f"celery worker exited at start:\n{worker.output()}", pytrace=False)
            if f"{node} ready." not in worker.output():  # cheap, before asking over the broker
                return False
            return any(node in reply for reply in app.control.ping(destination=[node], timeout=0.5))

        wait_until(ready, timeout=READY_TIMEOUT, interval=0.05, what=f"worker {node} to answer a ping")
        return worker

    def beat(self, **extra_env: str) -> CeleryProcess:
        args = ["--loglevel=info", f"--schedule={self.folder / 'beat-schedule'}", "--max-interval=1"]
        beat = CeleryProcess(
            kind="beat", args=args, env=self.env(**extra_env), log=self._log("beat"), name="beat"
        )
        self.started.append(beat)
        return beat

    def logs(self) -> list[tuple[str, str]]:
        return [(f"celery {p.kind} {p.pid} ({p.log.name})", p.output()) for p in self.started]

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()
