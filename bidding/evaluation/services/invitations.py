"""Telling a drawn expert of its invitation: by mail to the expert alone (EVAL-SECRET), once per seat."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding.evaluation.models import CommitteeMember
from trading.i18n import official_language

logger = logging.getLogger("evaluation.invitations")


def invitation_queue(member: CommitteeMember) -> None:
    """After the draw's transaction commits: a rolled-back draw invites nobody."""
    from bidding.evaluation.tasks import expert_invitation_task

    transaction.on_commit(lambda: expert_invitation_task.delay(member.pk))


def invitation_send(*, member_id: int) -> bool:
    """Mail the invitation if the seat still waits for its answer and was not told before; True if sent."""
    with transaction.atomic():
        member = (
            CommitteeMember.objects.select_for_update(of=("self",))
            .select_related("expert", "draw__section__project")
            .get(pk=member_id)
        )
        if member.status != CommitteeMember.Status.INVITED or member.notified_at is not None:
            return False
        if not member.expert.email:
            # No name here: the log is read by more people than the committee's names may be (EVAL-SECRET).
            logger.info("invitation of member #%s: the expert has no e-mail address", member.pk)
            return False
        section = member.draw.section
        with official_language():
            subject = _("评标邀请：%(section)s") % {"section": section.public_id}
            body = render_to_string(
                "evaluation/mail/invitation.txt",
                {"member": member, "section": section, "url": settings.SITE_URL + reverse("evaluation-expert")},
            )
        send_mail(subject, body, None, [member.expert.email])
        member.notified_at = timezone.now()
        member.save(update_fields=["notified_at"])
    return True
