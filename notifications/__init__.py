"""The Celery jobs (``tasks.py``) and what the shop tells people: the emails each event writes
(``events.py``, ``accounts.py``), the back-in-stock waitlist (``waitlist.py``) and, below them,
the outbox that stores and sends them (``outbox.py``). ``receivers.py`` reacts to the signals
of the apps below (and to the outbox's ``messages_written``) by queuing jobs.
"""
