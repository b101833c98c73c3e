"""Load the sample articles of articles.json through the knowledge API, idempotently.

An article of the file is known by its product, type and title (each title is unique in the file and carries the
【示例】 mark). Run again, the loader creates what is missing, writes a new version of what the file now says
differently (note 示例数据更新), publishes what is still a draft, and leaves the rest alone; it never deletes nor
touches an article that is not in the file, and an archived sample article stays archived.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

SEED_FILE = Path(__file__).with_name("articles.json")
CONTENT = ("body", "tags", "audience")


def sample_articles(path: Path = SEED_FILE) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["articles"]


async def existing(client: httpx.AsyncClient, headers: dict[str, str], product_code: str) -> dict[tuple, dict]:
    """The articles of a product, by (type, title)."""
    found: dict[tuple, dict] = {}
    cursor = None
    while True:
        params = {"product_code": product_code, "limit": 200, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/articles", params=params, headers=headers)
        r.raise_for_status()
        body = r.json()
        for article in body["items"]:
            found.setdefault((article["type"], article["title"]), article)
        if not (cursor := body["next_cursor"]):
            return found


async def seed(client: httpx.AsyncClient, headers: dict[str, str],
               entries: list[dict[str, Any]] | None = None) -> Counter:
    """Load `entries` (default: the sample file) as published articles; answers what was done, counted."""
    entries = sample_articles() if entries is None else entries
    done: Counter = Counter()
    known: dict[str | None, dict[tuple, dict]] = {}
    for entry in entries:
        code = entry["product_code"]
        if code not in known:
            known[code] = await existing(client, headers, code)
        article = known[code].get((entry["type"], entry["title"]))
        body = {k: entry[k] for k in ("type", "product_code", "title", "body", "tags", "audience")}
        if article is None:
            article = await _call(client, "POST", "/v1/articles", headers, {**body, "note": "示例数据导入"})
            done["created"] += 1
        elif article["state"] == "archived":
            done["archived, left alone"] += 1
            continue
        elif any(article[k] != entry[k] for k in CONTENT):
            article = await _call(client, "PUT", f"/v1/articles/{article['id']}", headers,
                                  {**{k: body[k] for k in ("title", "body", "tags", "audience")},
                                   "note": "示例数据更新"}, version=article["version"])
            done["updated"] += 1
        else:
            done["unchanged"] += 1
        if article["state"] == "draft":
            await _call(client, "POST", f"/v1/articles/{article['id']}/publish", headers,
                        {"note": "示例数据导入"}, version=article["version"])
            done["published"] += 1
    return done


async def _call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: dict,
                version: int | None = None) -> dict[str, Any]:
    sent = {**headers, **({"If-Match": f'"{version}"'} if version is not None else {})}
    r = await client.request(method, path, json=body, headers=sent)
    if r.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json()
