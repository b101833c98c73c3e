"""Load the sample knowledge (示例数据: 客服口径, 投诉指导手册, FAQ and training material for 移动办公, 集团通讯录 and
外勤通) into a running knowledge service through its public API, as an admin: `make seed-knowledge`.

Idempotent (services/knowledge/seed/loader.py): running it again creates no duplicate. The content is sample data
and marked so (【示例】, tag 示例数据); it is never loaded by default, and this script refuses a service that is not
on this machine or a secret that is not the development one unless told --sample-data-on-purpose.

    python scripts/seed_knowledge.py [--url http://127.0.0.1:8003] [--sample-data-on-purpose]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from services.kit.auth import mint_token  # noqa: E402
from services.kit.settings import DEV_AUTH_SECRET, ServiceSettings  # noqa: E402
from services.knowledge.seed.loader import sample_articles, seed  # noqa: E402

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


async def main_async(url: str) -> int:
    secret = ServiceSettings().auth_secret
    headers = {"Authorization": "Bearer " + mint_token(secret, sub="seed-knowledge", roles=["admin"],
                                                       name="示例数据导入", ttl_seconds=600)}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        done = await seed(client, headers, sample_articles())
    print(f"{len(sample_articles())} sample articles: " + ", ".join(f"{n} {what}" for what, n in sorted(done.items())))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8003", help="the knowledge service")
    parser.add_argument("--sample-data-on-purpose", action="store_true",
                        help="load into a service that is not local or not on the development secret")
    args = parser.parse_args(argv)
    local = urllib.parse.urlsplit(args.url).hostname in LOCAL_HOSTS
    if not args.sample_data_on_purpose and (not local or ServiceSettings().auth_secret != DEV_AUTH_SECRET):
        parser.error("this looks like a real deployment (not local, or OPS_AUTH_SECRET is not the development "
                     "one): sample data goes there only with --sample-data-on-purpose")
    return asyncio.run(main_async(args.url))


if __name__ == "__main__":
    sys.exit(main())
