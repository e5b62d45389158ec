"""database_sync_to_async that also closes stale connections inside the call.

asgiref 3.13 keeps Django's per-thread connections inside the context the call
runs in, so the close_old_connections that channels' wrapper runs around that
context sees none, and a connection opened by the call outlived it (with
CONN_MAX_AGE=0 too). Closing inside the call restores the documented behaviour.
"""

import functools

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import close_old_connections


def _closing(func):
    @functools.wraps(func)
    def inner(*args, **kwargs):
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return inner


def db_call(func):
    return database_sync_to_async(_closing(func))


def db_call_parallel(func):
    """As db_call, but on the thread pool: calls of many sockets reach PostgreSQL side by side, where a
    row lock orders them (the one shared thread would queue them here instead)."""
    return sync_to_async(_closing(func), thread_sensitive=False)
