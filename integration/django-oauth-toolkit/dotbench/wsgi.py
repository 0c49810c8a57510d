"""WSGI entry point (served by waitress from run.sh)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dotbench.settings")

application = get_wsgi_application()
