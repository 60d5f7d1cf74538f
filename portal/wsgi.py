import os

from django.core.wsgi import get_wsgi_application

from portal.db import start_embedded_database_if_needed

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
start_embedded_database_if_needed()  # an entry point: the settings never start a server themselves
application = get_wsgi_application()
