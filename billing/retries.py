"""How long a Celery task waits before its next try: one backoff for every task that retries."""

from django.conf import settings


def backoff_countdown(retries: int, *, cap: int, first: int = 30) -> int:
    """``first`` seconds doubling per retry, at most ``cap`` — and on Redis at most 80 % of its
    visibility_timeout: a task waiting for its countdown is unacknowledged in the worker, and Redis would
    hand it to a second worker after that timeout (a duplicate retry chain)."""
    visibility = getattr(settings, "CELERY_VISIBILITY_TIMEOUT", None)
    if visibility:
        cap = min(cap, int(visibility * 0.8))
    return min(first * 2**retries, cap)


def database_retry_countdown(retries: int) -> int:
    return backoff_countdown(retries, first=2, cap=60)
