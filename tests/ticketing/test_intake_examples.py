"""The intake examples of the OpenAPI are bodies the running service accepts, not only its model: each files a
ticket (201) once the catalog knows the products they name."""

from contracts.events import Envelope, ProductRegistered
from services.ticketing.api.models import TicketIn
from services.ticketing.main import create
from services.ticketing.settings import Settings
from tests.support import eventually, publish, running, settings_for, token

EXAMPLES = TicketIn.model_config["json_schema_extra"]["examples"]


async def test_every_intake_example_files_a_ticket(infra):
    products = sorted({example["product_code"] for example in EXAMPLES})
    assert len(EXAMPLES) >= 2 and products
    app = create(settings_for(Settings, infra, "ticketing"))
    async with running(app) as client:
        await publish(infra, *[Envelope.wrap(ProductRegistered(code=code, name=code, stage="delivered",
                                                               vendor="vendor-05"),
                                             type="lifecycle.product.registered", source="lifecycle", subject=code,
                                             sequence=1, correlationid="test") for code in products])
        staff = token(infra, "agent")

        filed = {}

        async def every_example_filed():
            for index, example in enumerate(EXAMPLES):
                if index not in filed:
                    r = await client.post("/v1/tickets", json=example, headers=staff)
                    # refused only for a product the catalog has not learnt yet, never for the example itself
                    assert r.status_code == 201 or (
                        r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["product_code"]), r.text
                    if r.status_code == 201:
                        filed[index] = r.json()
            return len(filed) == len(EXAMPLES)

        await eventually(every_example_filed, what="each intake example filed once the catalog knew its product")
        for index, ticket in filed.items():
            assert ticket["status"] == "new" and ticket["kind"] == EXAMPLES[index]["kind"]
            assert ticket["city"] == EXAMPLES[index]["city"]
