"""Deploy checks of our own."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.compatibility, deploy=True)
def redis_broker_persistence(app_configs, **kwargs):
    """Queued Celery work lives in Redis: a Redis that keeps nothing on disk loses it on restart."""
    if not settings.REDIS_URL:
        return []
    try:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
        config = {**client.config_get("save"), **client.config_get("appendonly")}
    except Exception as exc:  # unreachable or CONFIG disabled: say so rather than pass silently
        return [Warning(f"could not read the Redis persistence settings: {exc}", id="sunlight.W002")]
    if not config.get("save") and config.get("appendonly") != "yes":
        return [
            Warning(
                "the Redis used as Celery broker keeps nothing on disk (save '' and appendonly no): "
                "queued work would be lost on a restart",
                hint="enable appendonly yes (and/or RDB snapshots) on the broker's Redis",
                id="sunlight.W001",
            )
        ]
    return []
