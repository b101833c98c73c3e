"""Attachments against the real broker and store: upload, list and download of real files (GridFS), the ticket's
record of them (version, history, event), refusals that store nothing (413, 415), scope and roles."""

import json
import urllib.parse

import pytest

from contracts.events import Envelope, ProductRegistered
from services.kit import metrics
from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.store.attachments import BUCKET
from tests.support import captured, database, eventually, publish, running, settings_for, token
from tests.ticketing import samples

PRODUCT = "mobile_office"
DB = "ticketing_attach"
LIMIT = 10 * 1024 * 1024


def complaint(city="济南"):
    return {"kind": "complaint", "channel": "account_manager", "product_code": PRODUCT, "city": city,
            "title": "移动办公无法登录", "description": "客户反映移动办公登录失败，附截图",
            "customer": {"name": "张三", "group_name": "济南市某局"}}


@pytest.fixture(scope="module")
async def api(infra):
    app = create(settings_for(Settings, infra, DB))
    assert app.state.runtime.settings.attachment_max_bytes == LIMIT  # the documented default
    async with running(app) as client:
        await publish(infra, Envelope.wrap(
            ProductRegistered(code=PRODUCT, name="移动办公", stage="delivered", vendor="vendor-a"),
            type="lifecycle.product.registered", source="lifecycle", subject=PRODUCT, sequence=1,
            correlationid="test"))

        async def catalog_knows_product():
            r = await client.post("/v1/tickets", json=complaint(), headers=token(infra, "agent"))
            return r.status_code == 201

        await eventually(catalog_knows_product, what="the catalog learnt the product from lifecycle's event")
        yield client


@pytest.fixture
async def ticket(api, infra):
    r = await api.post("/v1/tickets", json=complaint(), headers=token(infra, "agent"))
    assert r.status_code == 201
    return r.json()


def staff(infra):
    return token(infra, "agent", sub="agent-7", name="王五")


async def upload(api, headers, ticket_id, filename, content, content_type="application/octet-stream", **extra):
    return await api.post(f"/v1/tickets/{ticket_id}/attachments", files={"file": (filename, content, content_type)},
                          headers={**headers, **extra})


def gridfs_inserts() -> float:
    """Insert commands ticketing sent to its GridFS collections so far (kit.store.CommandCounter)."""
    return sum(metrics.STORE_COMMANDS.labels("ticketing", "insert", f"{BUCKET}.{c}")._value.get()
               for c in ("files", "chunks"))


async def stored_files(infra, ticket_id) -> list[dict]:
    async with database(infra, DB) as db:
        return await db[f"{BUCKET}.files"].find({"metadata.ticket_id": ticket_id}).to_list()


async def stored_chunks(infra, files: list[dict]) -> int:
    async with database(infra, DB) as db:  # by files_id: the one chunk query nx-27017 answers (kit/store.py)
        return sum([len(await db[f"{BUCKET}.chunks"].find({"files_id": f["_id"]}).to_list()) for f in files])


async def test_a_png_screenshot_is_stored_listed_and_downloaded(api, infra, ticket):
    tid, image = ticket["id"], samples.png()
    async with captured(infra, "ticket.attachment_added") as events:
        r = await upload(api, staff(infra), tid, "登录失败截图.png", image, "image/png")
        assert r.status_code == 201, r.text
        attachment = r.json()
        assert attachment["filename"] == "登录失败截图.png" and attachment["content_type"] == "image/png"
        assert attachment["size"] == len(image) and attachment["uploaded_by"] == "agent-7"
        assert r.headers["Location"] == attachment["href"] == f"/v1/tickets/{tid}/attachments/{attachment['id']}"
        assert r.headers["ETag"] == '"2"'

        listed = (await api.get(f"/v1/tickets/{tid}/attachments", headers=staff(infra))).json()
        assert listed == {"items": [attachment], "next_cursor": None}
        got = await api.get(attachment["href"], headers=staff(infra))
        assert got.status_code == 200 and got.content == image
        assert got.headers["content-type"] == "image/png" and got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"] == (
            "inline; filename=\"______.png\"; filename*=UTF-8''" + urllib.parse.quote("登录失败截图.png"))

        after = (await api.get(f"/v1/tickets/{tid}", headers=staff(infra))).json()
        assert after["version"] == 2 and after["attachments"][0]["id"] == attachment["id"]
        history = (await api.get(f"/v1/tickets/{tid}/history", headers=staff(infra))).json()["items"]
        assert history[-1]["action"] == "attach" and history[-1]["details"]["attachment_id"] == attachment["id"]

        async def announced():
            return [e for e in await events() if e["subject"] == tid]

        event = (await eventually(announced, what="ticket.attachment_added published"))[0]
        assert event["sequence"] == 2 and event["data"]["attachment_id"] == attachment["id"]
        assert event["data"]["sha256"] == attachment["sha256"] and event["data"]["size"] == len(image)
    files = await stored_files(infra, tid)
    assert [f["metadata"]["sha256"] for f in files] == [attachment["sha256"]]


async def test_a_pdf_with_a_chinese_name_keeps_its_sniffed_type_and_serves_ranges(api, infra, ticket):
    tid, document = ticket["id"], samples.pdf("rectification") * 1 + b"%" + b"x" * 700_000  # several GridFS chunks
    r = await upload(api, staff(infra), tid, "整改报告（第2版）.pdf", document, "application/x-msdownload")
    assert r.status_code == 201, r.text
    attachment = r.json()
    assert attachment["content_type"] == "application/pdf"  # what the content is, not what the client said
    href = attachment["href"]
    got = await api.get(href, headers=token(infra, "account_manager", city="济南"))  # who may read the ticket
    assert got.content == document and got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith('attachment; filename="')
    assert "filename*=UTF-8''" + urllib.parse.quote("整改报告（第2版）.pdf") in got.headers["content-disposition"]
    part = await api.get(href, headers={**staff(infra), "Range": "bytes=300000-300099"})
    assert part.status_code == 206 and part.content == document[300_000:300_100]
    assert part.headers["content-range"] == f"bytes 300000-300099/{len(document)}"
    tail = await api.get(href, headers={**staff(infra), "Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == document[-5:]
    beyond = await api.get(href, headers={**staff(infra), "Range": f"bytes={len(document)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-type"].startswith("application/problem+json")


async def test_a_renamed_exe_is_415_and_nothing_is_stored(api, infra, ticket):
    tid, before = ticket["id"], gridfs_inserts()
    r = await upload(api, staff(infra), tid, "截图.png", samples.exe(), "image/png")
    assert r.status_code == 415 and r.headers["content-type"].startswith("application/problem+json")
    assert "content" in r.json()["detail"]
    assert gridfs_inserts() == before and await stored_files(infra, tid) == []
    after = (await api.get(f"/v1/tickets/{tid}", headers=staff(infra))).json()
    assert after["version"] == ticket["version"] and after["attachments"] == []


async def test_the_gridfs_probes_of_these_tests_see_a_stored_file(api, infra, ticket):
    """The checks that 'nothing is stored' rely on can see something stored."""
    before = gridfs_inserts()
    r = await upload(api, staff(infra), ticket["id"], "a.txt", "x".encode() * 300_000, "text/plain")
    assert r.status_code == 201
    files = await stored_files(infra, ticket["id"])
    assert gridfs_inserts() > before and len(files) == 1 and await stored_chunks(infra, files) == 2


@pytest.mark.parametrize("chunked", [False, True], ids=["with-content-length", "chunked-no-length"])
async def test_one_byte_over_10_mb_is_413_and_nothing_is_stored(api, infra, ticket, chunked):
    tid, before = ticket["id"], gridfs_inserts()
    content = samples.png() + b"\x00" * (LIMIT + 1 - len(samples.png()))
    if not chunked:
        r = await upload(api, staff(infra), tid, "大图.png", content, "image/png")
    else:  # no Content-Length to go by: the limit holds while the body streams in
        boundary = "attachtestboundary"
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
                f"Content-Type: image/png\r\n\r\n").encode()

        async def body():
            yield head
            for start in range(0, len(content), 1024 * 1024):
                yield content[start:start + 1024 * 1024]
            yield f"\r\n--{boundary}--\r\n".encode()

        r = await api.post(f"/v1/tickets/{tid}/attachments", content=body(),
                           headers={**staff(infra), "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and r.json()["max_bytes"] == LIMIT
    assert gridfs_inserts() == before and await stored_files(infra, tid) == []
    assert (await api.get(f"/v1/tickets/{tid}", headers=staff(infra))).json()["version"] == ticket["version"]


async def test_exactly_10_mb_is_accepted(api, infra, ticket):
    content = samples.png() + b"\x00" * (LIMIT - len(samples.png()))
    r = await upload(api, staff(infra), ticket["id"], "大图.png", content, "image/png")
    assert r.status_code == 201 and r.json()["size"] == LIMIT


async def test_scope_and_roles(api, infra, ticket):
    tid = ticket["id"]
    r = await upload(api, staff(infra), tid, "a.png", samples.png())
    href = r.json()["href"]
    other_city = token(infra, "account_manager", city="青岛")
    before = gridfs_inserts()
    assert (await upload(api, other_city, tid, "b.png", samples.png())).status_code == 403
    assert (await api.get(f"/v1/tickets/{tid}/attachments", headers=other_city)).status_code == 403
    assert (await api.get(href, headers=other_city)).status_code == 403
    analyst = token(infra, "analyst")  # may read every ticket, may not write on one
    r = await upload(api, analyst, tid, "b.png", samples.png())
    assert r.status_code == 403 and r.json()["type"] == "/problems/forbidden"
    assert (await api.get(href, headers=analyst)).status_code == 200
    own_city = token(infra, "account_manager", city="济南")
    assert (await upload(api, own_city, tid, "c.png", samples.png())).status_code == 201
    assert gridfs_inserts() > before
    vendor = token(infra, "vendor", vendor="vendor-a")  # not escalated to it: outside its scope
    assert (await api.get(href, headers=vendor)).status_code == 403
    assert (await api.get(href)).status_code == 401


async def test_unknown_ticket_and_attachment_are_404(api, infra, ticket):
    before = gridfs_inserts()
    r = await upload(api, staff(infra), "TS-20000101-99999", "a.png", samples.png())
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert (await api.get("/v1/tickets/TS-20000101-99999/attachments", headers=staff(infra))).status_code == 404
    for missing in ("0123456789abcdef01234567", "not-an-object-id"):
        r = await api.get(f"/v1/tickets/{ticket['id']}/attachments/{missing}", headers=staff(infra))
        assert r.status_code == 404
    assert gridfs_inserts() == before


async def test_bad_requests_are_problems_and_store_nothing(api, infra, ticket):
    tid, before = ticket["id"], gridfs_inserts()
    r = await api.post(f"/v1/tickets/{tid}/attachments", json={"file": "x"}, headers=staff(infra))
    assert r.status_code == 415
    r = await api.post(f"/v1/tickets/{tid}/attachments", files={"other": ("a.png", samples.png(), "image/png")},
                       headers=staff(infra))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = await upload(api, staff(infra), tid, "empty.png", b"")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = await upload(api, staff(infra), tid, "a.png", samples.png(), **{"If-Match": "99"})
    assert r.status_code == 412
    r = await api.post(f"/v1/tickets/{tid}/attachments", content=b"--x\r\nbroken",
                       headers={**staff(infra), "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json")
    assert gridfs_inserts() == before and await stored_files(infra, tid) == []


async def test_a_closed_ticket_takes_no_attachment(api, infra, ticket):
    tid, headers = ticket["id"], staff(infra)
    await api.post(f"/v1/tickets/{tid}/assign", json={"assignee": "agent-7"}, headers=headers)
    await api.post(f"/v1/tickets/{tid}/resolve", json={"answer": "已重置密码", "cause": "usage_misunderstanding"},
                   headers=headers)
    assert (await api.post(f"/v1/tickets/{tid}/feedback", json={"satisfied": True}, headers=headers)).status_code == 200
    before = gridfs_inserts()
    r = await upload(api, headers, tid, "a.png", samples.png())
    assert r.status_code == 409 and r.json()["ticket_status"] == "closed"
    assert gridfs_inserts() == before


def test_the_upload_route_documents_a_multipart_body_with_a_chinese_example(infra):
    spec = create(settings_for(Settings, infra, DB)).openapi()
    body = spec["paths"]["/v1/tickets/{ticket_id}/attachments"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["required"] == ["file"]
    assert "截图" in json.dumps(body, ensure_ascii=False)
