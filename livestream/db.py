"""database_sync_to_async that also closes stale connections inside the call.

asgiref 3.13 keeps Django's per-thread connections inside the context the call
runs in, so the close_old_connections that channels' wrapper runs around that
context sees none, and a connection opened by the call outlived it (with
CONN_MAX_AGE=0 too). Closing inside the call restores the documented behaviour.
"""

import functools

from channels.db import database_sync_to_async
from django.db import close_old_connections


def db_call(func):
    @functools.wraps(func)
    def inner(*args, **kwargs):
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return database_sync_to_async(inner)
