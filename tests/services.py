"""Detect the optional local services (PostgreSQL on 5432, Redis on 6379) the suite also exercises."""

import socket

import pytest


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


needs_postgres = pytest.mark.skipif(not listening(5432), reason="no PostgreSQL listening on 127.0.0.1:5432")
needs_redis = pytest.mark.skipif(not listening(6379), reason="no Redis listening on 127.0.0.1:6379")
