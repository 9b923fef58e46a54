"""The peer for ``bench/authz.py``: djangorestframework-api-key guarding one DRF view.

What a Python team would otherwise pick: ``HasAPIKey`` reads ``Authorization: Api-Key …``,
finds the key by its prefix in SQLite and checks its SHA-512 hash (v3's hasher), per
request. It logs nothing and checks no signature, so it does less than ``/authz``.
Served by uvicorn (ASGI, one worker) like gql-keys. Not a dependency of gql-keys:
``pip install djangorestframework-api-key django djangorestframework`` into the venv
to run it. ``python -m bench.drf_peer setup`` migrates and prints a new key.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import django
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.management import call_command
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "rest_framework_api_key",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(
                os.environ.get("BENCH_PEER_DIR", tempfile.gettempdir()), "peer.sqlite3"
            ),
        }
    },
    MIDDLEWARE=[],
    USE_TZ=True,
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework_api_key.permissions.HasAPIKey"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

from rest_framework.response import Response  # noqa: E402  (needs the settings)
from rest_framework.views import APIView  # noqa: E402
from rest_framework_api_key.models import APIKey  # noqa: E402


class Orders(APIView):  # type: ignore[misc]
    def get(self, request: Any) -> Response:
        return Response({"ok": True})


urlpatterns = [path("api/v4/spot/orders", Orders.as_view())]
application = get_asgi_application()


def setup() -> str:
    call_command("migrate", verbosity=0)
    _, key = APIKey.objects.create_key(name="bench")
    return str(key)


if __name__ == "__main__" and sys.argv[1:] == ["setup"]:
    print(setup())
