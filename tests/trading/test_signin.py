"""Sign-in: password, lock-out after repeated failures, TOTP for officials and custodians."""

import re

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from trading.models import Role

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-9"


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_a_bidder_signs_in_with_a_password_alone(make_user):
    bidder = make_user(Role.BIDDER)
    client = Client()
    response = client.post("/accounts/login/", {"username": bidder.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/workspace/"
    assert client.get("/workspace/").status_code == 200


@pytest.mark.parametrize("role", [Role.STAFF, Role.SUPERVISOR])
def test_officials_reach_nothing_before_the_second_factor(make_user, role):
    official = make_user(role)
    device = TOTPDevice.objects.create(user=official, confirmed=True)
    client = Client()
    response = client.post("/accounts/login/", {"username": official.username, "password": PASSWORD})
    assert response["Location"] == "/accounts/otp/"
    assert client.get("/workspace/")["Location"] == "/accounts/otp/"
    assert client.get("/api/v1/me/").json()["code"] == "OTP-REQUIRED"
    response = client.post("/accounts/otp/", {"token": code_for(device)})
    assert response.status_code == 302
    assert client.get("/api/v1/me/").json()["role"] == role


def test_a_key_custodian_needs_the_second_factor_whatever_the_role(make_user):
    custodian = make_user(Role.TENDERER, is_key_custodian=True)
    client = Client()
    response = client.post("/accounts/login/", {"username": custodian.username, "password": PASSWORD})
    assert response["Location"] == "/accounts/otp/"
    # No device yet: sent to enrolment, which shows a QR code and a secret.
    assert client.get("/accounts/otp/")["Location"] == "/accounts/otp/setup/"
    page = client.get("/accounts/otp/setup/")
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=custodian, confirmed=False)
    client.post("/accounts/otp/setup/", {"token": code_for(device)})
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/workspace/").status_code == 200


def test_repeated_failures_lock_the_account(make_user, settings):
    settings.SIGNIN_MAX_FAILURES = 3
    bidder = make_user(Role.BIDDER)
    client = Client()
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": bidder.username, "password": "wrong-password"})
        assert "用户名或密码错误" in response.content.decode()
    bidder.refresh_from_db()
    assert bidder.locked_until > timezone.now()
    # Even the right password is refused while locked.
    response = client.post("/accounts/login/", {"username": bidder.username, "password": PASSWORD})
    assert response.status_code == 200 and "锁定" in response.content.decode()


def test_unknown_user_and_wrong_password_get_the_same_answer(make_user):
    bidder = make_user(Role.BIDDER)
    client = Client()

    def page(username):
        body = client.post("/accounts/login/", {"username": username, "password": "nope-nope-1"}).content.decode()
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body).replace(username, "X")

    assert page(bidder.username) == page("nobody-here")


def test_program_tokens_need_totp_for_officials(make_user, api):
    staff = make_user(Role.STAFF)
    device = TOTPDevice.objects.create(user=staff, confirmed=True)
    refused = api.post("/api/v1/auth/token/", {"username": staff.username, "password": PASSWORD}, format="json")
    assert refused.status_code == 401 and refused.json()["code"] == "OTP-INVALID"
    granted = api.post(
        "/api/v1/auth/token/", {"username": staff.username, "password": PASSWORD, "otp": code_for(device)}, format="json"
    )
    token = granted.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/me/").json()["username"] == staff.username


def test_a_wrong_password_is_said_once_on_the_sign_in_page(client, make_user):
    user = make_user(Role.BIDDER)
    page = client.post("/accounts/login/", {"username": user.username, "password": "wrong"}).content.decode()
    assert page.count("用户名或密码错误") == 1
