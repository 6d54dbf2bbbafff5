"""Running one piece of test code in several threads at once, for races on PostgreSQL."""

import threading

from django.db import connection


def run_together(target, count: int) -> None:
    """Run ``target`` in ``count`` threads released together by a barrier; each thread closes
    its own database connection (Django opens one per thread) and all are joined."""
    start = threading.Barrier(count)

    def run():
        try:
            start.wait()
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
