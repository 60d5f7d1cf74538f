from tests.api.conftest import acme  # noqa: F401 - fixture shared with the API tests
from tests.ingest.conftest import pbx  # noqa: F401 - fixture shared with the import tests
