"""Staff screens for delivery: addresses, carts, slot capacity, shipments, and the delivery
part of the order screen. Pages open, filters work, what must not change cannot, and each
page costs the same number of queries however many rows it shows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from checkout import addresses
from checkout.models import Address, Cart, CartLine, Order, OrderLine, Shipment, ShipmentLine, SlotCapacity
from miniprogram_api.accounts.models import Customer
from tests.checkout.cart_city import make_cart_city, stocked_products
from tests.factories import CustomerFactory
from tests.orders import make_order

pytestmark = pytest.mark.django_db

SLOT_DATE = dt.date(2026, 5, 21)
ROUTING = {
    "address": {"latitude": "31.232000", "longitude": "121.475000"},
    "considered": [
        {"location": "SH-STORE", "distance_m": 800, "skipped": "no stock of Milk <b>x</b>"},
        {"location": "SH-WH", "distance_m": 4200, "chosen": True},
    ],
    "split": False,
}


@pytest.fixture
def staff() -> Client:
    Customer.objects.create_superuser("boss", "a-strong-password")
    client = Client()
    client.login(username="boss", password="a-strong-password")
    return client


@pytest.fixture
def city():
    return make_cart_city()


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def assert_constant(client: Client, url: str, few: int, django_assert_max_num_queries) -> None:
    """``url`` now shows more rows than when it cost ``few`` queries, and costs no more."""
    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200


def delivery_order(city, *, shipments: int = 1, lines: int = 1) -> Order:
    customer = CustomerFactory()
    products = [city.milk, *stocked_products(city, lines - 1)]
    order = make_order(customer_id=customer.pk, store_id=city.store.pk, items=[(p, 2, 1290) for p in products])
    Order.objects.filter(pk=order.pk).update(
        channel=Order.Channel.DELIVERY,
        store=None,
        city=city.city,
        delivery_address={"recipient": "Li Lei", "phone": "13800138000", "text": "1 Renmin Road"},
        slot_date=SLOT_DATE,
        slot="09:00-12:00",
        routing=ROUTING,
    )
    order_lines = list(OrderLine.objects.filter(order=order))
    for index in range(shipments):
        location = (city.warehouse, city.store)[index % 2]
        shipment = Shipment.objects.create(
            order=order, location=location, slot_date=SLOT_DATE, slot="09:00-12:00", distance_m=4200 + index
        )
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, order_line=line, product_id=line.product_id, quantity=line.quantity)
            for line in order_lines
        )
    return order


# --- The order screen ---------------------------------------------------------------------


def test_an_order_shows_its_shipments_routing_and_delivery_fields(staff, city):
    order = delivery_order(city, shipments=2)

    page = staff.get(f"/admin/checkout/order/{order.pk}/change/").content.decode()

    assert "SH-WH" in page and "SH-STORE" in page  # the shipment inline
    assert "09:00-12:00" in page and "May 21, 2026" in page
    assert "Li Lei" in page and "13800138000" in page
    # The routing table: a column per key (PostgreSQL's jsonb keeps no key order), a row per location.
    assert all(f"<th>{key}</th>" in page for key in ("location", "distance_m", "skipped", "chosen"))
    assert "<td>SH-WH</td>" in page and "<td>4200</td>" in page and "<td>true</td>" in page
    assert "no stock of Milk &lt;b&gt;x&lt;/b&gt;" in page  # escaped, not markup
    assert "<summary>JSON</summary>" in page


def test_an_in_store_order_screen_still_opens(staff, city):
    order = make_order(customer_id=CustomerFactory().pk, store_id=city.store.pk, items=[(city.milk, 1, 1190)])

    response = staff.get(f"/admin/checkout/order/{order.pk}/change/")

    assert response.status_code == 200
    assert "Delivery" in response.content.decode()


def test_the_order_screen_costs_the_same_for_one_or_many_shipments(staff, city, django_assert_max_num_queries):
    few = queries_for(staff, f"/admin/checkout/order/{delivery_order(city, shipments=1, lines=1).pk}/change/")
    many = delivery_order(city, shipments=6, lines=8)

    assert_constant(staff, f"/admin/checkout/order/{many.pk}/change/", few, django_assert_max_num_queries)


# --- Shipments ----------------------------------------------------------------------------


def test_shipment_list_filters_and_detail_are_read_only(staff, city):
    order = delivery_order(city, shipments=2)
    shipment = Shipment.objects.filter(order=order).first()

    for url in (
        "/admin/checkout/shipment/",
        "/admin/checkout/shipment/?status__exact=pending_payment",
        f"/admin/checkout/shipment/?location__id__exact={city.warehouse.pk}",
        f"/admin/checkout/shipment/?slot_date={SLOT_DATE.isoformat()}",
        f"/admin/checkout/shipment/?q={order.number}",
        f"/admin/checkout/shipment/{shipment.pk}/change/",
    ):
        assert staff.get(url).status_code == 200, url

    assert staff.get("/admin/checkout/shipment/add/").status_code == 403
    staff.post(f"/admin/checkout/shipment/{shipment.pk}/change/", {"status": "delivered", "slot": "x"})
    assert Shipment.objects.get(pk=shipment.pk).status == Shipment.Status.PENDING_PAYMENT
    filtered = staff.get(f"/admin/checkout/shipment/?location__id__exact={city.store.pk}").content.decode()
    assert "1 shipment" in filtered


def test_shipment_screens_cost_the_same_whatever_the_rows(staff, city, django_assert_max_num_queries):
    delivery_order(city, shipments=1, lines=1)
    one = Shipment.objects.get()
    few_list = queries_for(staff, "/admin/checkout/shipment/")
    few_detail = queries_for(staff, f"/admin/checkout/shipment/{one.pk}/change/")

    big = delivery_order(city, shipments=8, lines=10)
    delivery_order(city, shipments=5)

    assert_constant(staff, "/admin/checkout/shipment/", few_list, django_assert_max_num_queries)
    detail = Shipment.objects.filter(order=big).first()
    assert_constant(staff, f"/admin/checkout/shipment/{detail.pk}/change/", few_detail, django_assert_max_num_queries)


# --- Slot capacity ------------------------------------------------------------------------


def slot(city, **fields) -> SlotCapacity:
    values = {"location": city.warehouse, "date": SLOT_DATE, "slot": "09:00-12:00", "capacity": 40, "taken": 30}
    return SlotCapacity.objects.create(**{**values, **fields})


def test_slot_capacity_list_and_filters(staff, city, django_assert_max_num_queries):
    slot(city)
    few = queries_for(staff, "/admin/checkout/slotcapacity/")
    for index, name in enumerate(("12:00-15:00", "15:00-18:00", "18:00-21:00")):
        slot(city, slot=name, taken=index)
        slot(city, slot=name, location=city.store, date=SLOT_DATE + dt.timedelta(days=1))

    assert_constant(staff, "/admin/checkout/slotcapacity/", few, django_assert_max_num_queries)
    for url in (
        f"/admin/checkout/slotcapacity/?date={SLOT_DATE.isoformat()}",
        "/admin/checkout/slotcapacity/?slot=09%3A00-12%3A00",
        f"/admin/checkout/slotcapacity/?location__id__exact={city.store.pk}",
    ):
        assert staff.get(url).status_code == 200, url
    page = staff.get("/admin/checkout/slotcapacity/?slot=09%3A00-12%3A00").content.decode()
    assert "1 slot capacity" in page
    assert staff.get("/admin/checkout/slotcapacity/add/").status_code == 403


def test_staff_may_change_a_slots_capacity_but_not_below_what_is_taken(staff, city):
    row = slot(city)
    url = f"/admin/checkout/slotcapacity/{row.pk}/change/"

    refused = staff.post(url, {"capacity": 29})
    assert refused.status_code == 200 and "30 orders are already promised" in refused.content.decode()
    assert SlotCapacity.objects.get(pk=row.pk).capacity == 40

    assert staff.post(url, {"capacity": 30, "taken": 0}).status_code == 302
    assert SlotCapacity.objects.values_list("capacity", "taken").get(pk=row.pk) == (30, 30)


# --- Addresses ----------------------------------------------------------------------------


def address_for(customer, **fields) -> Address:
    values = {"recipient": "Li Lei", "phone": "13800138000", "text": "1 Renmin Road", "city_code": "shanghai",
              "latitude": "31.232", "longitude": "121.475", **fields}  # fmt: skip
    return addresses.create_address(customer_id=customer.pk, **values)


def test_addresses_are_searchable_by_recipient_and_phone(staff, city, django_assert_max_num_queries):
    address_for(CustomerFactory())
    few = queries_for(staff, "/admin/checkout/address/")
    for index in range(6):
        address_for(CustomerFactory(), recipient=f"Han Meimei {index}", phone=f"1390000000{index}")

    assert_constant(staff, "/admin/checkout/address/", few, django_assert_max_num_queries)
    assert "1 address" in staff.get("/admin/checkout/address/?q=13900000003").content.decode()
    assert "6 addresses" in staff.get("/admin/checkout/address/?q=Meimei").content.decode()
    assert staff.get(f"/admin/checkout/address/?city__id__exact={city.city.pk}&is_default__exact=1").status_code == 200


def address_form(address: Address, **fields) -> dict:
    values = {"recipient": address.recipient, "phone": address.phone, "text": address.text,
              "city": address.city_id, "latitude": address.latitude, "longitude": address.longitude}  # fmt: skip
    return {**values, **fields}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"phone": "12345"}, "mainland mobile"),
        ({"latitude": "31.2989", "longitude": "120.5853"}, "outside the city&#x27;s service area"),
        ({"latitude": "95"}, "Latitude must be within -90..90"),
    ],
)
def test_staff_corrections_follow_the_address_rules(staff, city, fields, message):
    address = address_for(CustomerFactory())
    before = Address.objects.filter(pk=address.pk).values().get()

    response = staff.post(f"/admin/checkout/address/{address.pk}/change/", address_form(address, **fields))

    assert response.status_code == 200 and message in response.content.decode()
    assert Address.objects.filter(pk=address.pk).values().get() == before


def test_staff_can_correct_a_phone_number_which_is_tidied(staff, city):
    address = address_for(CustomerFactory())

    response = staff.post(f"/admin/checkout/address/{address.pk}/change/", address_form(address, phone="139 0000 0000"))

    assert response.status_code == 302
    assert Address.objects.get(pk=address.pk).phone == "13900000000"


def test_staff_adding_an_address_for_a_shopper_with_twenty_is_refused(staff, city):
    shopper = CustomerFactory()
    for _ in range(20):
        address_for(shopper)
    form = {"customer": shopper.pk, "recipient": "X", "phone": "13800138000", "text": "Road", "city": city.city.pk,
            "latitude": "31.232", "longitude": "121.475"}  # fmt: skip

    response = staff.post("/admin/checkout/address/add/", form)

    assert response.status_code == 200 and "already has 20 addresses" in response.content.decode()
    assert Address.objects.filter(customer=shopper).count() == 20


# --- Carts --------------------------------------------------------------------------------


def test_carts_list_and_detail_cost_the_same_whatever_the_rows(staff, city, django_assert_max_num_queries):
    small = Cart.objects.create(customer=CustomerFactory(), city=city.city)
    CartLine.objects.create(cart=small, product=city.milk, quantity=2)
    few_list = queries_for(staff, "/admin/checkout/cart/")
    few_detail = queries_for(staff, f"/admin/checkout/cart/{small.pk}/change/")

    big = Cart.objects.create(customer=CustomerFactory(), city=city.city)
    CartLine.objects.bulk_create(CartLine(cart=big, product=p, quantity=1) for p in stocked_products(city, 12))
    for _ in range(4):
        Cart.objects.create(customer=CustomerFactory(), city=city.city)

    assert_constant(staff, "/admin/checkout/cart/", few_list, django_assert_max_num_queries)
    assert_constant(staff, f"/admin/checkout/cart/{big.pk}/change/", few_detail, django_assert_max_num_queries)
    page = staff.get(f"/admin/checkout/cart/{small.pk}/change/").content.decode()
    assert "Milk" in page
    assert staff.get("/admin/checkout/cart/add/").status_code == 403


def test_an_address_staff_add_for_a_shopper_without_one_is_their_default(staff, city):
    shopper = CustomerFactory()
    form = {"customer": shopper.pk, "recipient": "Li Lei", "phone": "+86 138 0013 8000", "text": "1 Renmin Road",
            "city": city.city.pk, "latitude": "31.232", "longitude": "121.475"}  # fmt: skip

    assert staff.post("/admin/checkout/address/add/", form).status_code == 302
    assert staff.post("/admin/checkout/address/add/", form).status_code == 302

    assert list(Address.objects.filter(customer=shopper).order_by("pk").values_list("is_default", "phone")) == [
        (True, "13800138000"),
        (False, "13800138000"),
    ]
