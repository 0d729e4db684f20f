import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nija_site.settings.local")
application = get_wsgi_application()
# What start-up loaded (Django, the apps, the venue SDKs: ~400,000 objects) lives as long as the
# process: freeze it out of the collector's full passes, which otherwise walk all of it again each
# time a large response (/api/v1/users over 10,000 users) builds enough objects to trigger one.
gc.freeze()
