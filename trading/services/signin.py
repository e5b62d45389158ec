"""Password sign-in with lock-out, and the second factor (TOTP) for officials and custodians."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import DomainError
from trading.models import User


class SigninError(DomainError):
    status = 401


def signin_check_password(*, username: str, password: str, request=None) -> User:
    """The first step; refuses locked accounts, counts failures, locks after too many."""
    now = timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is not None and user.locked_until and user.locked_until > now:
            refusal = SigninError("SIGNIN-LOCKED", _("失败次数过多，账户已临时锁定，请稍后再试。"))
        elif (authenticated := authenticate(request, username=username, password=password)) is None:
            if user is not None:
                _count_failure(user, now=now, factor="password")
            # The same answer for an unknown name and a wrong password.
            refusal = SigninError("SIGNIN-FAILED", _("用户名或密码错误。"))
        else:
            refusal = None
            if user.failed_signins or user.locked_until:
                user.failed_signins, user.locked_until = 0, None
                user.save(update_fields=["failed_signins", "locked_until"])
    # Raised after the commit, so the failure count is kept.
    if refusal is not None:
        raise refusal
    return authenticated


def _count_failure(user: User, *, now, factor: str) -> None:
    user.failed_signins += 1
    if user.failed_signins >= settings.SIGNIN_MAX_FAILURES:
        user.locked_until, user.failed_signins = now + settings.SIGNIN_LOCKOUT, 0
        audit_append(event=AuditEvent.SIGNIN_LOCKED, actor=user, data={"factor": factor})
    else:
        audit_append(event=AuditEvent.SIGNIN_FAILED, actor=user, data={"factor": factor})
    user.save(update_fields=["failed_signins", "locked_until"])


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def signin_check_totp(*, user: User, token: str) -> TOTPDevice:
    device = totp_device(user)
    if device is None:
        raise SigninError("OTP-NOT-ENROLLED", _("该账户尚未绑定动态口令，请先完成绑定。"))
    if not token or not device.verify_token(token.strip()):
        with transaction.atomic():
            _count_failure(User.objects.select_for_update().get(pk=user.pk), now=timezone.now(), factor="totp")
        raise SigninError("OTP-INVALID", _("动态口令错误。"))
    audit_append(event=AuditEvent.SIGNIN, actor=user, data={"factor": "totp"})
    return device


def totp_enroll(*, user: User) -> TOTPDevice:
    """An unconfirmed device; confirmed once the person types a first valid code."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def totp_confirm(*, user: User, token: str) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None or not device.verify_token(token.strip()):
        raise SigninError("OTP-INVALID", _("动态口令错误。"))
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device
