"""Fixtures of analytics' integration tests: one analytics instance per test module on the session's store and
broker (consumers and jobs running, as `--role all`), an analyst's token, and a way to publish ticket events."""

import pytest

from services.analytics.main import create
from services.analytics.settings import Settings
from tests.support import publish, running, settings_for, token


@pytest.fixture(scope="module")
async def app(infra):
    return create(settings_for(Settings, infra, "analytics"))


@pytest.fixture(scope="module")
async def client(app):
    async with running(app) as client:
        yield client


@pytest.fixture
def analyst(infra):
    return token(infra, "analyst")


@pytest.fixture
def send(infra):
    """Publish envelopes onto the events exchange, one after another, as ticketing's relay would."""
    async def send(*envelopes) -> None:
        for envelope in envelopes:
            await publish(infra, envelope)

    return send
