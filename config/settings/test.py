"""Tests: the same settings, faster hashing; real services when the environment names them."""

import os

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min", "signin": "100000/min"},
}
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
ANNOUNCEMENT_CACHE_SECONDS = 0
# Enrolment speed for tests only; production keeps the memory-hard default of bidding.keys.
CUSTODIAN_KDF = {"name": "argon2id", "iterations": 1, "lanes": 1, "memory_cost": 64}
# Tasks run in the test process; tests that need a real worker start one themselves (with this set to 0 for it).
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "1") == "1"
# Openings in tests read out without pauses; tests that need pauses set them.
OPENING_READOUT_SECONDS = float(os.environ.get("OPENING_READOUT_SECONDS", "0"))
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # mail.outbox, never files or a server
