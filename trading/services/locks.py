"""Row locks in one place; call inside a transaction (SQLite ignores them, PostgreSQL doesn't)."""

from trading.models import Section


def lock_section(pk: int) -> Section:
    # NO KEY UPDATE: changes to the section wait for each other, but inserting a row that refers to it (an audit
    # entry, whose append holds the log's lock) does not wait for the change, which may be waiting for that lock.
    return Section.objects.select_for_update(of=("self",), no_key=True).select_related("project").get(pk=pk)
