"""``cx demo``: a demo shop with a few hundred customers across the whole journey.

Seeding is deterministic (fixed random seed, message ids derived from business keys), so a
rerun stores nothing twice; it only issues fresh keys, because keys are kept hashed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ..events import derive_message_id
from ..events.fields import timestamp_to_wire
from ..privacy import hash_email
from .store import Store

DEMO_SHOP_ID = "demo"
CUSTOMERS = 300

PRODUCTS = [
    ("sku-1001", "Wanderschuh Alpin", "Schuhe", Decimal("129.90")),
    ("sku-1002", "Regenjacke Nordwind", "Jacken", Decimal("89.00")),
    ("sku-1003", "Merino-Shirt Basis", "Shirts", Decimal("49.95")),
    ("sku-1004", "Trekkingrucksack 35 l", "Rucksäcke", Decimal("119.00")),
    ("sku-1005", "Thermosflasche 0,75 l", "Zubehör", Decimal("24.90")),
    ("sku-1006", "Stirnlampe Lumen 400", "Zubehör", Decimal("39.90")),
    ("sku-1007", "Softshellhose Fels", "Hosen", Decimal("99.00")),
    ("sku-1008", "Wandersocken 3er-Pack", "Zubehör", Decimal("19.95")),
]


def product_image(sku: str) -> str:
    """An inline SVG picture per demo product: the demo fetches nothing from elsewhere."""
    hue = (int(sku.rsplit("-", 1)[-1]) * 47) % 360
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 160 160'>"
        f"<rect width='160' height='160' fill='hsl({hue},45%,80%)'/>"
        f"<circle cx='80' cy='80' r='44' fill='hsl({hue},45%,35%)'/></svg>"
    )
    return "data:image/svg+xml," + quote(svg)


CARRIERS = [
    ("DHL", "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={n}"),
    ("DPD", "https://tracking.dpd.de/status/de_DE/parcel/{n}"),
    ("Hermes", "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation/#{n}"),
]
CITIES = ["Berlin", "Hamburg", "München", "Köln", "Wien", "Zürich", "Leipzig", "Graz"]


def demo_email(index: int) -> str:
    """Demo customers' addresses; only their hashes are stored."""
    return f"kunde{index:04d}@example.de"


class _Journey:
    """Builds one customer's messages with ids derived from (customer, step)."""

    def __init__(self, index: int, start: datetime, channel: str) -> None:
        self.index = index
        self.now = start
        self.channel = channel
        self.anonymous_id = f"anon-{index:04d}"
        self.user_id: str | None = None
        self.messages: list[dict[str, Any]] = []

    def wait(self, rng: random.Random, low_hours: float, high_hours: float) -> None:
        self.now += timedelta(hours=rng.uniform(low_hours, high_hours))

    def add(self, kind: str, event: str | None = None, **fields: Any) -> None:
        step = len(self.messages)
        message: dict[str, Any] = {
            "type": kind,
            "messageId": derive_message_id("demo", self.index, step, event or kind),
            "timestamp": timestamp_to_wire(self.now),
            "anonymousId": self.anonymous_id,
            "context": {"channel": self.channel, "locale": "de-DE"},
            **fields,
        }
        if self.user_id:
            message["userId"] = self.user_id
        if event:
            message["event"] = event
        self.messages.append(message)


def _products(rng: random.Random, count: int) -> list[dict[str, Any]]:
    chosen = rng.sample(PRODUCTS, count)
    return [
        {
            "product_id": sku,
            "sku": sku,
            "name": name,
            "category": category,
            "price": str(price),
            "quantity": rng.choice([1, 1, 1, 2]),
            "image_url": product_image(sku),
            "url": f"/demo?product={sku}",
        }
        for sku, name, category, price in chosen
    ]


def customer_journey(index: int, rng: random.Random, today: date) -> list[dict[str, Any]]:
    """One realistic customer: most browse, some buy, a few return or complain."""
    start = datetime.combine(today - timedelta(days=rng.randint(5, 60)), datetime.min.time(), UTC)
    start += timedelta(hours=rng.uniform(7, 22))
    journey = _Journey(index, start, rng.choice(["web", "web", "web", "app", "email", "social"]))
    journey.add("page", name="Startseite", properties={"path": "/"})
    if rng.random() < 0.5:
        journey.add(
            "track", "Products Searched", properties={"query": rng.choice(["jacke", "schuh"])}
        )
    basket = _products(rng, rng.randint(1, 3))
    for product in basket:
        journey.wait(rng, 0.01, 0.1)
        journey.add("track", "Product Viewed", properties={**product, "currency": "EUR"})
    if rng.random() < 0.35:
        return journey.messages  # browsed only
    for product in basket:
        journey.add("track", "Product Added", properties={**product, "currency": "EUR"})
    journey.wait(rng, 0.01, 0.2)
    total = sum(Decimal(p["price"]) * p["quantity"] for p in basket)
    checkout_id = f"chk-{index:04d}"
    order_props = {"checkout_id": checkout_id, "total": str(total), "currency": "EUR"}
    journey.add("track", "Checkout Started", properties={**order_props, "products": basket})
    if rng.random() < 0.25:
        journey.wait(rng, 1, 3)
        journey.add("track", "Checkout Abandoned", properties=order_props)
        return journey.messages
    email = demo_email(index)
    journey.user_id = f"cust-{index:04d}"
    journey.add(
        "identify",
        traits={
            "email_hash": hash_email(email),
            "city": rng.choice(CITIES),
            "locale": "de",
            "segment": rng.choice(["Stammkunde", "Neukunde", "Outdoor-Profi"]),
        },
    )
    order_id = f"{5000 + index}"
    order_number = f"#{1000 + index}"
    placed = {
        **order_props,
        "order_id": order_id,
        "order_number": order_number,
        "email_hash": hash_email(email),
        "revenue": str(total),
        "products": basket,
    }
    journey.add("track", "Order Completed", properties=placed)
    journey.wait(rng, 0.01, 0.5)
    journey.add(
        "track",
        "Order Paid",
        properties={"order_id": order_id, "total": str(total), "currency": "EUR"},
    )
    if rng.random() < 0.05:
        journey.add(
            "track", "Order Cancelled", properties={"order_id": order_id, "currency": "EUR"}
        )
        return journey.messages
    carrier, url = rng.choice(CARRIERS)
    tracking = f"{rng.randint(10**11, 10**12 - 1)}"
    journey.wait(rng, 12, 36)
    promised = (journey.now + timedelta(days=3)).date()
    shipment = {
        "order_id": order_id,
        "shipment_id": f"shp-{order_id}",
        "carrier": carrier,
        "tracking_number": tracking,
        "tracking_url": url.format(n=tracking),
        "promised_delivery_date": promised.isoformat(),
    }
    journey.add("track", "Shipment Created", properties={**shipment, "status": "info_received"})
    late = rng.random() < 0.2
    for status, hours in (("in_transit", 10), ("out_for_delivery", 30 if not late else 80)):
        journey.wait(rng, hours * 0.5, hours)
        location = {"city": rng.choice(CITIES), "country": "DE"}
        if journey.now.date() > today:
            return journey.messages
        journey.add(
            "track",
            "Shipment Status Updated",
            properties={**shipment, "status": status, "location": location},
        )
    journey.wait(rng, 2, 8)
    if journey.now.date() > today:
        return journey.messages
    if rng.random() < 0.04:
        journey.add(
            "track",
            "Shipment Status Updated",
            properties={
                **shipment,
                "status": "exception",
                "message": "Empfänger nicht angetroffen",
            },
        )
        return journey.messages
    journey.add("track", "Shipment Delivered", properties={**shipment, "status": "delivered"})
    journey.wait(rng, 24, 96)
    if journey.now.date() > today:
        return journey.messages
    if rng.random() < 0.15:
        returned = basket[:1]
        return_props = {"order_id": order_id, "return_id": f"ret-{order_id}", "products": returned}
        journey.add("track", "Return Requested", properties={**return_props, "reason": "Zu klein"})
        journey.wait(rng, 2, 24)
        journey.add("track", "Return Approved", properties=return_props)
        journey.wait(rng, 24, 72)
        journey.add("track", "Return Received", properties=return_props)
        amount = Decimal(returned[0]["price"]) * returned[0]["quantity"]
        journey.add(
            "track",
            "Order Refunded",
            properties={
                "order_id": order_id,
                "refund_id": f"ref-{order_id}",
                "amount": str(amount),
                "currency": "EUR",
                "reason": "Rücksendung",
                "refund_type": "full" if amount >= total else "partial",
                "products": returned,
            },
        )
    if rng.random() < 0.6:
        score = rng.choices(range(11), weights=[1, 1, 1, 1, 2, 2, 3, 6, 10, 12, 9])[0]
        survey = {"survey_id": "nps-post-delivery", "survey_type": "nps", "order_id": order_id}
        journey.add("track", "Survey Shown", properties=survey)
        comment = rng.choice([None, "Schnelle Lieferung!", "Verpackung war beschädigt."])
        answered = {**survey, "score": score, **({"comment": comment} if comment else {})}
        journey.add("track", "Survey Answered", properties=answered)
    if rng.random() < 0.2:
        journey.add(
            "track",
            "Product Reviewed",
            properties={"product_id": basket[0]["product_id"], "rating": rng.randint(3, 5)},
        )
    return journey.messages


def demo_messages(
    today: date | None = None, customers: int = CUSTOMERS
) -> Iterator[dict[str, Any]]:
    rng = random.Random(20261123)
    today = today or datetime.now(UTC).date()
    for index in range(customers):
        yield from customer_journey(index, rng, today)


def seed(store: Store, customers: int = CUSTOMERS) -> dict[str, Any]:
    """Create (or reuse) the demo shop, store its journeys, issue fresh keys."""
    if store.get_shop(DEMO_SHOP_ID) is None:
        created = store.create_shop("cx Demo-Shop", "custom", shop_id=DEMO_SHOP_ID)
        write_key, admin_token = created.write_key, created.admin_token
    else:
        write_key = store.rotate_key(DEMO_SHOP_ID, "write")
        admin_token = store.rotate_key(DEMO_SHOP_ID, "admin")
    _survey_right_after_delivery(store)
    messages = list(demo_messages(customers=customers))
    accepted = duplicates = 0
    for start in range(0, len(messages), 500):
        result = store.ingest(DEMO_SHOP_ID, messages[start : start + 500])
        accepted += len(result.accepted)
        duplicates += len(result.duplicates)
    return {
        "shop_id": DEMO_SHOP_ID,
        "write_key": write_key,
        "admin_token": admin_token,
        "stored": accepted,
        "already_there": duplicates,
    }


def _survey_right_after_delivery(store: Store) -> None:
    """The demo asks for an NPS as soon as an order is delivered, so a visitor sees it, and
    has its chat switched on (a real shop switches it on in the console)."""
    try:
        from ..widgets.config import SurveyConfig, WidgetConfig
        from ..widgets.registry import WIDGETS, settings_for
    except ImportError:
        return
    widgets = settings_for(store)
    widgets.save_survey(DEMO_SHOP_ID, SurveyConfig("nps", delay_days=0))
    if "chat" in WIDGETS:
        widgets.save(DEMO_SHOP_ID, WidgetConfig("chat", enabled=True))


STOREFRONT = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.title }}</title>
<link rel="stylesheet" href="/demo/style.css">
</head>
<body>
<header><strong>{{ t.title }}</strong>
  <nav><a href="?locale=de">Deutsch</a> · <a href="?locale=en">English</a></nav></header>
<main>
  <section>
    <h1>{{ product }}</h1>
    <p>{{ t.intro }}</p>
    <div class="cx-slot" data-cx-widget="recommendations" data-cx-shop="{{ shop_id }}"
         data-cx-locale="{{ lang }}" data-cx-product="{{ sku }}" data-cx-placement="product"></div>
  </section>
  <section>
    <h2>{{ t.tracking }}</h2>
    <p>{{ t.tracking_hint }} <code>{{ order_number }}</code> / <code>{{ email }}</code></p>
    <div class="cx-slot" data-cx-widget="tracking" data-cx-shop="{{ shop_id }}"
         data-cx-locale="{{ lang }}" data-cx-order="{{ order_number }}"
         data-cx-email="{{ email }}"></div>
  </section>
  <section>
    <h2>{{ t.survey }}</h2>
    <div class="cx-slot" data-cx-widget="survey" data-cx-shop="{{ shop_id }}"
         data-cx-locale="{{ lang }}" data-cx-order="{{ order_number }}"
         data-cx-email="{{ email }}"></div>
  </section>
  <section>
    <h2>{{ t.chat }}</h2>
    <div class="cx-slot" data-cx-widget="chat" data-cx-shop="{{ shop_id }}"
         data-cx-locale="{{ lang }}"></div>
  </section>
</main>
{% if loader %}<script src="{{ loader }}" defer></script>{% endif %}
</body>
</html>
"""

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1d2327; background: #fafafa; }
header { display: flex; justify-content: space-between; padding: 1rem 2rem; background: #12355b;
  color: #fff; }
header a { color: #fff; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 2rem; }
section { background: #fff; border: 1px solid #dcdcde; border-radius: 8px; padding: 1rem 1.5rem;
  margin: 1rem 0; }
.cx-slot[data-cx-label]:empty::before { content: attr(data-cx-label); display: block; padding: 1rem;
  border: 2px dashed #8c8f94; border-radius: 6px; color: #50575e; }
"""

TEXTS = {
    "de": {
        "title": "cx Demo-Shop",
        "intro": "Diese Seite zeigt, wo die cx-Widgets im Shop erscheinen.",
        "tracking": "Wo ist meine Bestellung?",
        "tracking_hint": "Beispielbestellung:",
        "survey": "Ihre Meinung",
        "chat": "Fragen zum Produkt?",
    },
    "en": {
        "title": "cx demo shop",
        "intro": "This page shows where the cx widgets appear in a shop.",
        "tracking": "Where is my order?",
        "tracking_hint": "Sample order:",
        "survey": "Your opinion",
        "chat": "Questions about the product?",
    },
}

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_page = _env.from_string(STOREFRONT)


def storefront_routes(shop_id: str, sample_order: tuple[str, str]) -> list[Route]:
    """The demo storefront: a shop page with the places widgets fill."""

    async def page(request: Request) -> HTMLResponse:
        lang = request.query_params.get("locale", "de")
        lang = lang if lang in TEXTS else "de"
        has_loader = any(
            getattr(route, "path", "") == "/widgets" for route in request.app.router.routes
        )
        names = {sku: name for sku, name, _, _ in PRODUCTS}
        sku = request.query_params.get("product", "sku-1001")
        sku = sku if sku in names else "sku-1001"
        html = _page.render(
            lang=lang,
            sku=sku,
            product=names[sku],
            t=TEXTS[lang],
            shop_id=shop_id,
            order_number=sample_order[0],
            email=sample_order[1],
            loader=f"/widgets/{shop_id}/loader.js" if has_loader else None,
        )
        return HTMLResponse(html)

    async def style(request: Request) -> HTMLResponse:
        return HTMLResponse(STYLE, media_type="text/css")

    return [Route("/demo", page), Route("/demo/style.css", style)]


def sample_order() -> tuple[str, str]:
    """A delivered demo order and its email, for the tracking widget's lookup."""
    rng = random.Random(20261123)
    today = datetime.now(UTC).date()
    for index in range(CUSTOMERS):
        messages = customer_journey(index, rng, today)
        if any(m.get("event") == "Shipment Delivered" for m in messages):
            placed = next(m for m in messages if m.get("event") == "Order Completed")
            return placed["properties"]["order_number"], demo_email(index)
    return "#1000", ""


def run_demo(database_url: str, host: str, port: int, serve: bool = True) -> int:
    from .app import create_app
    from .settings import Settings

    settings = Settings.from_env(database_url=database_url, public_url=f"http://{host}:{port}")
    store = Store.open(settings.database_url)
    print(f"cx demo: seeding the demo shop into {database_url} …")
    summary = seed(store)
    order_number, email = sample_order()
    base = settings.public_url
    print(
        f"\n  shop id       {summary['shop_id']}\n"
        f"  write key     {summary['write_key']}\n"
        f"  admin token   {summary['admin_token']}\n"
        f"  events        {summary['stored']} stored now, "
        f"{summary['already_there']} already there\n"
        f"\n  storefront    {base}/demo   ({base}/demo?locale=en)\n"
        f"  events API    curl -H 'Authorization: Bearer {summary['admin_token']}' "
        f"{base}/api/v1/events?limit=5\n"
        f"  order         curl -H 'Authorization: Bearer {summary['admin_token']}' "
        f"'{base}/api/v1/orders/{order_number.replace('#', '%23')}'\n"
        f"  API spec      {base}/openapi.json\n"
        f"  dashboard     {base}/console/dashboard   (sign in with the admin token)\n"
        f"  KPIs          curl -H 'Authorization: Bearer {summary['admin_token']}' "
        f"{base}/api/v1/kpis\n"
    )
    if not serve:
        store.close()
        return 0
    import uvicorn

    app = create_app(settings, store)
    for route in storefront_routes(DEMO_SHOP_ID, (order_number, email)):
        app.router.routes.append(route)
    print("  Ctrl-C stops the server.\n")
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
