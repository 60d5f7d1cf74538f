"""gunicorn's production configuration: ``gunicorn -c portal/gunicorn_conf.py portal.wsgi:application``.

Every value can be overridden from the environment (or on gunicorn's command line, which wins).

Workers are recycled: after ``max_requests`` requests (plus a random 0..``max_requests_jitter``, so the
workers do not all restart at once) a worker finishes its requests in flight and is replaced by a fresh
one. Whatever a long-lived worker accumulates (fragmented heap, caches of libraries, a slow leak in a
dependency) is bounded by that. ``manage.py soak`` shows it under load.
"""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1))
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
keepalive = _int("GUNICORN_KEEPALIVE", 30)  # seconds; behind a proxy that keeps connections open
timeout = _int("GUNICORN_TIMEOUT", 60)  # a worker silent this long is killed and replaced
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
