"""On PostgreSQL: scans running at once (two beat workers, a retried task) raise each alert exactly once."""

import threading

import pytest
from django.db import connection

from tests.supervision.conftest import move
from trading.audit.events import AuditEvent
from trading.audit.log import audit_verify
from trading.audit.models import AuditEntry
from trading.models import SectionState
from trading.supervision.models import Alert
from trading.supervision.services.monitor import scan_run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_CONTRACT_30D_concurrent_scans_raise_one_alert_one_audit_entry_one_feed_event(section):
    move(section, SectionState.AWARDED, days_ago=31)
    barrier = threading.Barrier(4)
    errors = []

    def scan():
        try:
            barrier.wait()
            scan_run()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    alert = Alert.objects.get(rule="CONTRACT-30D")
    assert Alert.objects.filter(rule="REPORT-15D").count() == 1
    assert AuditEntry.objects.filter(event=AuditEvent.ALERT_RAISED, data__alert=alert.pk).count() == 1
    from livestream.models import StreamEvent

    raised = list(StreamEvent.objects.filter(stream__key="supervision", kind="alert.raised"))
    assert sorted(e.payload["rule"] for e in raised) == ["CONTRACT-30D", "REPORT-15D"]
    assert audit_verify().ok
