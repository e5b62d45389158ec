"""One error body for every 4xx: {"code", "message", "fields"}."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from trading.errors import DomainError


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {key: " ".join(str(v) for v in (value if isinstance(value, list) else [value])) for key, value in detail.items()}
    return {}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = fields.pop("non_field_errors", "") or _("输入有误，请检查后重试。")
        response.data = error_body("INVALID", message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "error").upper().replace("_", "-")
        response.data = error_body(code, str(detail))
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.data["code"] = "THROTTLED"
    return response
