"""Settings of the throwaway django-oauth-toolkit (DOT) server that authbench tests live.

Everything that varies between runs comes from the environment (run.sh sets it):

- ``DOTBENCH_DB``: path of the sqlite database (a temporary directory).
- ``DOTBENCH_GRACE_SECONDS``: ``REFRESH_TOKEN_GRACE_PERIOD_SECONDS`` (0 = no grace window).
- ``DOTBENCH_ACCESS_TTL``: ``ACCESS_TOKEN_EXPIRE_SECONDS`` (short, so storms and expiry checks
  do not wait long).
- ``DOTBENCH_REFRESH_TTL``: ``REFRESH_TOKEN_EXPIRE_SECONDS``.
- ``DOTBENCH_ROTATE``, ``DOTBENCH_REUSE_PROTECTION``: "0" turns ``ROTATE_REFRESH_TOKEN`` /
  ``REFRESH_TOKEN_REUSE_PROTECTION`` off (both on by default).
- ``DJANGO_SECRET_KEY``: random per process when unset (nothing here outlives the run).

The refresh-token policy is the one DOT documents for RFC 9700 §4.14.2: rotation on, reuse
protection on (a replayed, rotated-out refresh token revokes its whole token family).
"""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "oauth2_provider",
    "dotbench",
]

# No sessions, CSRF or admin: the token endpoints are the whole surface. DOT's token views are
# csrf_exempt; the resource view authenticates with the bearer token only.
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "dotbench.urls"
WSGI_APPLICATION = "dotbench.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DOTBENCH_DB", str(BASE_DIR / "dotbench.sqlite3")),
        # One connection per server thread, kept (opening sqlite + the PRAGMAs per request would
        # dominate the cost of a resource call).
        "CONN_MAX_AGE": None,
        "OPTIONS": {
            # Writers queue on the database lock instead of failing with "database is locked"
            # under a refresh storm; WAL lets readers (resource calls) proceed meanwhile.
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Test-only: a fast hasher, so that seeding hundreds of users and authenticating every password
# login and every confidential-client request (DOT hashes client secrets too) does not cost
# ~0.5 s of PBKDF2 each on a 2-core CI machine. Django's own testing docs recommend this for
# tests. Never use it for real accounts.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

USE_TZ = True
TIME_ZONE = "UTC"

OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("DOTBENCH_ACCESS_TTL", "6")),
    "REFRESH_TOKEN_EXPIRE_SECONDS": int(os.environ.get("DOTBENCH_REFRESH_TTL", "3600")),
    # Both on unless DOTBENCH_ROTATE / DOTBENCH_REUSE_PROTECTION is "0": the misconfigurations
    # users run, for trying authbench against them by hand (run.sh leaves both on).
    "ROTATE_REFRESH_TOKEN": os.environ.get("DOTBENCH_ROTATE", "1") != "0",
    "REFRESH_TOKEN_REUSE_PROTECTION": os.environ.get("DOTBENCH_REUSE_PROTECTION", "1") != "0",
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": int(os.environ.get("DOTBENCH_GRACE_SECONDS", "0")),
    "SCOPES": {"read": "Read the test API", "introspection": "Introspect tokens"},
    "DEFAULT_SCOPES": ["read"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Warnings only: DOT logs a line per legacy (password-grant) request otherwise.
    "root": {"handlers": ["console"], "level": "ERROR"},
}
