"""WSGI entry point (gunicorn ``labpanel.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")
application = get_wsgi_application()

from labpanel.process_start import freeze_after_start  # noqa: E402  (needs the app loaded)

freeze_after_start()
