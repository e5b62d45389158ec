"""Token auth for programs; tokens expire, and a second-factor role gets one only after TOTP."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

TOKEN_LIFETIME = timedelta(hours=getattr(settings, "API_TOKEN_HOURS", 12))


class ExpiringTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token.created < timezone.now() - TOKEN_LIFETIME:
            token.delete()
            raise exceptions.AuthenticationFailed("token expired")
        return user, token
