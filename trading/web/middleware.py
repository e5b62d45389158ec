"""Officials, custodians and experts reach nothing but the second-factor pages until they pass it."""

from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

OPEN_PREFIXES = ("/accounts/", "/static/", "/i18n/")


class SecondFactorRequired:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and getattr(user, "needs_second_factor", False)
            and not user.is_verified()
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                body = {"code": "OTP-REQUIRED", "message": _("请先完成动态口令验证。"), "fields": {}}
                return JsonResponse(body, status=403)
            return redirect("otp")
        return self.get_response(request)


class DomainErrorPage:
    """A domain refusal raised by a page becomes a readable page with its status, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.shortcuts import render

        from trading.errors import DomainError

        if isinstance(exception, DomainError) and not request.path.startswith("/api/"):
            return render(request, "trading/refused.html", {"error": exception}, status=exception.status)
        return None
