"""Knowledge search latency over 20,000 articles: the engine in-process, then the API over HTTP, each with the
baseline of the same run.

Articles: realistic variations of the 70 of tests/knowledge/relevance/corpus.py — the product (any of the 35 of
the catalog) and its name in the text swapped, a city, version and numbers changed, sentences of other articles
of the same type added — so that word frequencies look like a real knowledge base (a few words in most articles,
most words in few). Queries: the labelled colloquial questions, half of them with a product filter, as an agent
(every audience) with published articles only.

- in-process: `SearchIndex.search` with snippets for the top 10, p50/p95/p99 over every query; baseline: a naive
  scan that counts each query word's occurrences in every published article's title and body (what a search
  without an index does), over the same queries.
- HTTP (unless --no-http): a private nx-27017 on a free port and the local RabbitMQ, the 20,000 articles
  written straight into knowledge's store, `python -m services.knowledge --role api` started on a free port; then
  GET /v1/search by one client, sequentially; baseline: GET /healthz over the same connection (the HTTP floor).

Usage: python bench/knowledge_search.py [--articles 20000] [--rounds 5] [--no-http]
A measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from services.kit.text import normalise  # noqa: E402
from services.knowledge.domain.search import Analyzer, Doc, SearchIndex, Synonyms, parse_query  # noqa: E402
from services.knowledge.domain.synonyms import DEFAULT_GROUPS  # noqa: E402
from tests.knowledge.relevance.corpus import ARTICLES  # noqa: E402
from tests.knowledge.relevance.questions import HELD_OUT, QUESTIONS  # noqa: E402

PRODUCTS = {  # code → name, lifecycle's seed catalog
    "mobile_office": "移动办公", "group_directory": "集团通讯录", "field_force": "外勤通",
    "enterprise_ringtone": "企业彩铃", "cloud_video_conf": "云视讯", "cloud_drive": "云盘", "push_to_talk": "和对讲",
    "fleet_manager": "车务通", "enterprise_mail": "企业邮箱", "group_sms": "集团短信", "cloud_host": "云主机",
    "e_signature": "电子签章", "party_building": "智慧党建", "mobile_attendance": "移动考勤",
    "e_invoice": "电子发票助手", "web_builder": "云建站", "cloud_fax": "云传真", "traffic_pool": "集团流量池",
    "remote_eye": "千里眼", "store_watch": "看店宝", "smart_site": "智慧工地", "open_kitchen": "明厨亮灶",
    "cloud_surveillance": "云监控", "farm_watch": "智慧农业监控", "campus_card": "校园一卡通",
    "enterprise_card": "企业一卡通", "access_control": "门禁考勤", "smart_canteen": "智慧食堂",
    "smart_parking": "智慧停车", "smart_campus": "智慧校园", "home_school_notice": "家校通知", "grade_report": "成绩通",
    "safe_campus": "平安校园", "school_bus": "校车通", "homework_helper": "作业辅导",
}
CITIES = ("济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照", "临沂", "德州", "聊城",
          "滨州", "菏泽")
_SENTENCE = re.compile(r"[^。！？]+[。！？]?")
_NUMBER = re.compile(r"\d+")


def generate(n: int, seed: int = 7) -> list[dict]:
    """`n` article documents as knowledge stores them (the fields search reads), varied from the corpus."""
    rng = random.Random(seed)
    sentences: dict[str, list[str]] = {}
    for a in ARTICLES:
        sentences.setdefault(a["type"], []).extend(_SENTENCE.findall(a["body"]))
    out = []
    for i in range(n):
        base = ARTICLES[i % len(ARTICLES)]
        code = rng.choice(list(PRODUCTS)) if rng.random() < 0.7 or base["product_code"] is None else base["product_code"]
        old = PRODUCTS.get(base["product_code"] or "", "")
        new = PRODUCTS[code]

        def vary(text: str) -> str:
            text = text.replace(old, new) if old else text
            return _NUMBER.sub(lambda m: str(max(1, int(m.group()) + rng.randint(-2, 5))), text)

        extra = rng.sample(sentences[base["type"]], k=min(len(sentences[base["type"]]), rng.randint(1, 4)))
        city = rng.choice(CITIES)
        title = vary(base["title"])
        if rng.random() < 0.5:
            title = f"{title}（{city}）"
        body = vary(base["body"]) + "".join(vary(s) for s in extra) + f"适用地市：{city}。"
        state = "published" if rng.random() < 0.85 else rng.choice(("draft", "archived"))
        out.append({"_id": f"KB-{i + 1:06d}", "type": base["type"], "product_code": code, "title": title,
                    "body": body, "tags": [vary(t) for t in base["tags"]], "state": state, "version": 1,
                    "audience": base["audience"]})
    return out


def queries(rng: random.Random) -> list[tuple[str, str | None]]:
    out = []
    for text, product, _ in QUESTIONS + HELD_OUT:
        out.append((text, None))
        out.append((text, product or rng.choice(list(PRODUCTS))))
    return out


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return f"p50 {at(0.50):7.2f} ms   p95 {at(0.95):7.2f} ms   p99 {at(0.99):7.2f} ms   (n={len(samples)})"


def in_process(articles: list[dict], rounds: int) -> None:
    from services.knowledge.store.search_index import article_doc

    synonyms = Synonyms.of(DEFAULT_GROUPS)
    started, cpu = time.perf_counter(), time.process_time()
    analyzer = Analyzer([*PRODUCTS.values(), *synonyms.words])
    index = SearchIndex(analyzer).build(article_doc(a) for a in articles)
    built, cpu = time.perf_counter() - started, time.process_time() - cpu
    postings = sum(len(p) for p in index._postings.values())
    print(f"index: {len(index)} articles, {len(index._postings)} words, {postings} postings, built in {built:.1f} s ({cpu:.1f} s CPU)")
    rng = random.Random(1)
    cases = queries(rng)
    engine, naive = [], []
    published = [a for a in articles if a["state"] == "published"]
    texts = [(a, normalise(a["title"]), normalise(a["body"])) for a in published]
    for _ in range(rounds):
        for text, product in cases:
            t0 = time.perf_counter()
            query = parse_query(text, analyzer, synonyms)
            where = {"state": ("published",), "audience": ("internal", "account_manager", "customer"),
                     **({"product_code": (product,)} if product else {})}
            index.search(query, where=where, limit=10)
            engine.append(time.perf_counter() - t0)
    for text, product in cases:  # the baseline once: it is slow
        t0 = time.perf_counter()
        words = analyzer.query_tokens(text)
        scored = []
        for a, title, body in texts:
            if product is not None and a["product_code"] != product:
                continue
            score = sum(3 * title.count(w) + body.count(w) for w in words)
            if score:
                scored.append((score, a["_id"]))
        scored.sort(reverse=True)
        naive.append(time.perf_counter() - t0)
    print(f"in-process engine     {percentiles(engine)}")
    print(f"in-process baseline   {percentiles(naive)}   naive substring scan of the published articles")


async def over_http(articles: list[dict], rounds: int) -> None:
    import aiohttp
    import devstack
    from pymongo import AsyncMongoClient

    from services.kit.auth import mint_token

    data_dir = tempfile.mkdtemp(prefix="bench-knowledge-nx-")
    port = devstack.free_port()
    nx = devstack.start_nx(data_dir, port)
    service = None
    try:
        url = devstack.mongo_url(port)
        devstack.ensure_rabbitmq(devstack.DEFAULT_AMQP_URL)
        namespace = f"bench{random.randrange(16 ** 6):06x}"
        db_name = f"{namespace}_knowledge"
        client = AsyncMongoClient(url, tz_aware=True)
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        docs = [{**a, "created_at": now, "updated_at": now, "created_by": "bench", "updated_by": "bench",
                 "published_at": None, "archived_at": None, "reuse_count": 0, "reused_by": [], "versions": []}
                for a in articles]
        for i in range(0, len(docs), 500):
            await client[db_name]["articles"].insert_many(docs[i:i + 500])
        await client.close()
        print(f"store: {len(docs)} articles written to nx-27017 in {time.perf_counter() - t0:.1f} s")
        secret = "bench-secret-" + "x" * 24
        http_port = devstack.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPS_")}
        env.update(OPS_MONGO_URL=url, OPS_AMQP_URL=devstack.DEFAULT_AMQP_URL, OPS_NAMESPACE=namespace,
                   OPS_MONGO_DB=db_name, OPS_AUTH_SECRET=secret, OPS_PORT=str(http_port), OPS_LOG_LEVEL="warning",
                   PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        service = subprocess.Popen([sys.executable, "-m", "services.knowledge", "--role", "api"], env=env, cwd=ROOT)
        base = f"http://127.0.0.1:{http_port}"
        headers = {"Authorization": "Bearer " + mint_token(secret, sub="bench", roles=["agent"])}
        async with aiohttp.ClientSession(base) as http:
            while True:
                try:
                    async with http.get("/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if service.poll() is not None or time.perf_counter() - t0 > 180:
                    raise RuntimeError("the knowledge service did not become ready")
                await asyncio.sleep(0.2)
            print(f"service: ready with its index in {time.perf_counter() - t0:.1f} s (start, load, build)")
            rng = random.Random(1)
            cases = queries(rng)
            searches, floor = [], []
            for _ in range(rounds):
                for text, product in cases:
                    params = {"q": text, **({"product_code": product} if product else {})}
                    t = time.perf_counter()
                    async with http.get("/v1/search", params=params, headers=headers) as r:
                        await r.read()
                        assert r.status == 200, r.status
                    searches.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    async with http.get("/healthz") as r:
                        await r.read()
                    floor.append(time.perf_counter() - t)
        print(f"HTTP GET /v1/search   {percentiles(searches)}")
        print(f"HTTP GET /healthz     {percentiles(floor)}   baseline: the HTTP floor, same connection")
    finally:
        if service is not None:
            service.terminate()
            service.wait(30)
        devstack.stop_process(nx)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    articles = generate(args.articles)
    print(f"{len(articles)} articles, {sum(a['state'] == 'published' for a in articles)} published; "
          f"{len(queries(random.Random(1)))} queries × {args.rounds} rounds")
    in_process(articles, args.rounds)
    if not args.no_http:
        asyncio.run(over_http(articles, args.rounds))


if __name__ == "__main__":
    main()
