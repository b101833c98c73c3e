"""The kit's integration tests share one store of the session's document server."""

import pytest

from services.kit.settings import ServiceSettings
from services.kit.store import Store


@pytest.fixture(scope="module")
async def store(infra):
    store = Store(ServiceSettings(service_name="kit", mongo_url=infra.mongo_url, mongo_db=infra.db_name("kit")))
    await store.start()
    yield store
    await store.close()
