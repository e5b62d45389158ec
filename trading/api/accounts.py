"""Who am I, and tokens for programs (after the second factor where the role needs one)."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from trading.services.signin import signin_check_password, signin_check_totp


class MeOut(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField()
    organization = serializers.CharField(allow_null=True)
    is_key_custodian = serializers.BooleanField()


class Me(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=MeOut)
    def get(self, request):
        user = request.user
        return Response(
            {
                "username": user.username,
                "role": user.role,
                "organization": user.organization.name if user.organization_id else None,
                "is_key_custodian": user.is_key_custodian,
            }
        )


class TokenObtain(APIView):
    from rest_framework.throttling import ScopedRateThrottle

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "signin"
    authentication_classes = []

    class TokenObtainInput(serializers.Serializer):
        username = serializers.CharField()
        password = serializers.CharField()
        otp = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(request=TokenObtainInput, responses={200: {"type": "object", "properties": {"token": {"type": "string"}}}})
    def post(self, request):
        data = self.TokenObtainInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = signin_check_password(username=data.validated_data["username"], password=data.validated_data["password"])
        if user.needs_second_factor:
            signin_check_totp(user=user, token=data.validated_data.get("otp", ""))
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        return Response({"token": token.key})
