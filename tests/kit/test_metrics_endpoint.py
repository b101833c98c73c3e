"""/metrics of every service (kit/app.py): the whole exposition, or only the samples asked for with `name[]`, as
prometheus_client's own handlers take it (the benchmarks poll a counter or two many times a second)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from services.ticketing.main import create
from services.ticketing.settings import Settings
from tests.support import running, settings_for


def sample_names(text: str) -> set[str]:
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


async def test_metrics_gives_every_sample_or_only_those_named(infra):
    async with running(create(settings_for(Settings, infra, "ticketing-metrics"))) as client:
        await client.get("/healthz")  # a request counted, so that the HTTP metrics have samples
        whole = await client.get("/metrics")
        assert whole.status_code == 200
        everything = sample_names(whole.text)
        assert {"ops_http_requests_total", "ops_store_commands_total"} <= everything

        asked = await client.get("/metrics", params=[("name[]", "ops_store_commands_total"),
                                                    ("name[]", "ops_http_requests_total")])
        assert asked.status_code == 200
        assert asked.headers["content-type"] == whole.headers["content-type"]
        assert sample_names(asked.text) == {"ops_store_commands_total", "ops_http_requests_total"}
        assert len(asked.text) < len(whole.text) / 4

        unknown = await client.get("/metrics", params={"name[]": "no_such_metric"})
        assert unknown.status_code == 200 and sample_names(unknown.text) == set()
