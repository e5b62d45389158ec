import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Django must be set up before the routing (and its models) is imported.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from bidding.auction.routing import websocket_urlpatterns as auction_websocket_urlpatterns  # noqa: E402
from bidding.upload_stream import UploadStreamRouter  # noqa: E402
from livestream.routing import websocket_urlpatterns  # noqa: E402
from trading.schedule import lifespan  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bid chunks stream straight to their part file; every other request is Django's.
        "http": UploadStreamRouter(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns + auction_websocket_urlpatterns))
        ),
        "lifespan": lifespan,  # the embedded default's schedule (trading/schedule.py)
    }
)
