"""``manage.py seed_authbench``: the test users and the OAuth application authbench uses.

Users follow authbench's default pattern ``user{n}`` / ``pw-{n}`` for n < ``--users``. The
application is a confidential client with the password grant (the non-interactive way to get the
first token pair); its client id and secret come from the environment (``AUTHBENCH_CLIENT_ID``,
``AUTHBENCH_CLIENT_SECRET``), never from a file. Idempotent: existing rows are kept.
"""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import get_application_model


class Command(BaseCommand):
    help = "Create user{n}/pw-{n} test users and the password-grant application."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=1000, help="how many users (default 1000)")

    def handle(self, *args, **opts):
        client_id = os.environ.get("AUTHBENCH_CLIENT_ID")
        client_secret = os.environ.get("AUTHBENCH_CLIENT_SECRET")
        if not client_id or not client_secret:
            raise CommandError("set AUTHBENCH_CLIENT_ID and AUTHBENCH_CLIENT_SECRET")
        n = opts["users"]
        if n < 1:
            raise CommandError("--users must be at least 1")

        User = get_user_model()
        existing = set(User.objects.filter(username__startswith="user").values_list("username", flat=True))
        new = [
            User(username=f"user{i}", password=make_password(f"pw-{i}"))
            for i in range(n)
            if f"user{i}" not in existing
        ]
        User.objects.bulk_create(new, batch_size=500)

        Application = get_application_model()
        app, created = Application.objects.get_or_create(
            client_id=client_id,
            defaults={
                "name": "authbench",
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_PASSWORD,
                "client_secret": client_secret,  # hashed on save (hash_client_secret=True)
            },
        )
        self.stdout.write(
            f"seeded {len(new)} new users (user0..user{n - 1}); application "
            f"{'created' if created else 'kept'} ({app.authorization_grant_type}, {app.client_type})"
        )
