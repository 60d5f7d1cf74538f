"""Deployment checks of our own (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def shared_cache_check(app_configs, **kwargs):
    """The API's rate limit counts in the cache: without Redis each process keeps its own counters, so
    a client spread over N worker processes gets N times its budget."""
    if settings.PRODUCTION and not settings.REDIS_URL:
        return [
            Warning(
                "REDIS_URL is not set: rate-limit counters are per process, so the API's rate limit is "
                "multiplied by the number of web worker processes.",
                hint="Set REDIS_URL (redis://host:6379/1) so every process and machine shares the counters.",
                id="portal.W001",
            )
        ]
    return []
