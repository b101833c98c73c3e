"""The sample knowledge (issue 9 point 8): enough of it, marked as sample data, and loaded through the API by the
same code `make seed-knowledge` runs, twice without a duplicate."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from contracts.vocabulary import ArticleType, Audience
from services.knowledge.main import create
from services.knowledge.seed.loader import SEED_FILE, sample_articles, seed
from services.knowledge.settings import Settings
from tests.support import running, settings_for, token

PRODUCTS = ("mobile_office", "group_directory", "field_force")  # lifecycle's catalog codes (domain/seed.py)


def test_the_sample_file_is_clean_marked_data():
    doc = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    entries = doc["articles"]
    per_product = Counter(e["product_code"] for e in entries)
    assert set(per_product) == set(PRODUCTS) and min(per_product.values()) >= 10
    kinds = {(e["product_code"], e["type"]) for e in entries}
    for code in PRODUCTS:
        for kind in ("service_script", "complaint_guide", "faq"):
            assert (code, kind) in kinds
    assert len({(e["product_code"], e["type"], e["title"]) for e in entries}) == len(entries)
    assert len({e["key"] for e in entries}) == len(entries)
    for e in entries:
        assert ArticleType(e["type"]) and Audience(e["audience"])
        assert e["title"].startswith("【示例】") and doc["sample_tag"] in e["tags"] and "示例数据" in e["body"]
        assert len(e["title"]) <= 200 and len(e["tags"]) <= 20


@pytest.fixture(scope="module")
async def client(infra):
    async with running(create(settings_for(Settings, infra, "knowledge-seed"))) as client:
        yield client


async def test_seeding_twice_loads_each_article_once_published(client, infra):
    admin = token(infra, "admin", sub="seed-knowledge")
    entries = sample_articles()
    first = await seed(client, admin, entries)
    assert (first["created"], first["published"]) == (len(entries), len(entries))
    again = await seed(client, admin, entries)
    assert again == Counter({"unchanged": len(entries)})

    changed = [{**entries[0], "body": entries[0]["body"] + "\n补充：示例修改。"}]
    assert await seed(client, admin, changed) == Counter({"updated": 1})
    for code in PRODUCTS:
        r = await client.get("/v1/articles", params={"product_code": code, "limit": 200}, headers=admin)
        items = r.json()["items"]
        assert len(items) == sum(e["product_code"] == code for e in entries)
        assert {a["state"] for a in items} == {"published"}
    customer = await client.get("/v1/articles", params={"product_code": "mobile_office"},
                                headers=token(infra, "intake"))
    assert customer.json()["items"] and {a["type"] for a in customer.json()["items"]} == {"faq"}


def test_the_command_refuses_what_looks_like_a_real_deployment(monkeypatch, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "seed_knowledge.py"
    spec = importlib.util.spec_from_file_location("seed_knowledge", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with pytest.raises(SystemExit):
        script.main(["--url", "http://knowledge.ops.example:8003"])
    monkeypatch.setenv("OPS_AUTH_SECRET", "a-production-secret")
    with pytest.raises(SystemExit):
        script.main(["--url", "http://127.0.0.1:8003"])
    assert "--sample-data-on-purpose" in capsys.readouterr().err
