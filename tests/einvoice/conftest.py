from tests.web.conftest import issued, signed_in  # noqa: F401 - the web tests' fixtures
