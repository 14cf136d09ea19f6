"""Parallel clients on one basket: no scan is lost, no line duplicated, no cap overrun.

Real threads, each with its own database connection, through the HTTP API. On PostgreSQL
the basket's row lock serialises them; on SQLite each write transaction begins IMMEDIATE,
which serialises writers for the whole database. Both must give the same answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import chain

import pytest
from rest_framework.test import APIClient

from checkout.models import Basket, BasketLine
from miniprogram_api.accounts.tokens import issue_token
from stores.barcodes import gs1_check_digit
from tests.checkout.shop import MILK_EAN, make_shop
from tests.factories import (
    BarcodeFactory,
    BasketFactory,
    BasketLineFactory,
    CustomerFactory,
    ProductFactory,
    StockFactory,
)
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10


def in_parallel(work: Callable[[int], list[int]]) -> list[int]:
    """Run ``work(i)`` in THREADS threads released together; return every status code."""
    return list(chain.from_iterable(run_in_parallel(work, THREADS)))


@pytest.fixture
def token():
    """One shopper's token, shared by every thread as one phone's retries would be."""
    customer = CustomerFactory()
    raw, _ = issue_token(customer=customer)
    return customer, raw


def client(raw: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def test_ten_clients_scanning_one_product_three_times_each_make_a_line_of_30(token):
    customer, raw = token
    shop = make_shop()
    basket = BasketFactory(customer=customer, store=shop.store)

    def scan_three_times(_: int) -> list[int]:
        api = client(raw)
        url = f"/api/v1/baskets/{basket.pk}/scan"
        return [api.post(url, {"barcode": MILK_EAN}, format="json").status_code for _ in range(3)]

    statuses = in_parallel(scan_three_times)

    assert Counter(statuses) == {200: 30}
    assert list(BasketLine.objects.filter(basket=basket).values_list("kind", "quantity")) == [("unit", 30)]


def stocked_codes(store, n: int) -> list[str]:
    """Codes of ``n`` new products the store sells."""
    codes = []
    for i in range(n):
        body = f"69{i:02d}00000000"[:12]
        product = ProductFactory()
        BarcodeFactory(product=product, code=body + str(gs1_check_digit(body)))
        StockFactory(location=store, product=product)
        codes.append(body + str(gs1_check_digit(body)))
    return codes


def test_ten_clients_scanning_ten_products_make_ten_lines(token):
    customer, raw = token
    shop = make_shop()
    basket = BasketFactory(customer=customer, store=shop.store)
    codes = stocked_codes(shop.store, THREADS)

    def scan_one(index: int) -> list[int]:
        url = f"/api/v1/baskets/{basket.pk}/scan"
        return [client(raw).post(url, {"barcode": codes[index]}, format="json").status_code]

    statuses = in_parallel(scan_one)

    assert Counter(statuses) == {200: THREADS}
    rows = BasketLine.objects.filter(basket=basket).values_list("barcode", "quantity")
    assert sorted(rows) == sorted((code, 1) for code in codes)


def test_a_hundred_parallel_scans_fill_a_line_to_exactly_99_and_refuse_one(token):
    customer, raw = token
    shop = make_shop()
    basket = BasketFactory(customer=customer, store=shop.store)

    def scan_ten_times(_: int) -> list[int]:
        api = client(raw)
        url = f"/api/v1/baskets/{basket.pk}/scan"
        return [api.post(url, {"barcode": MILK_EAN}, format="json").status_code for _ in range(10)]

    statuses = in_parallel(scan_ten_times)

    assert Counter(statuses) == {200: 99, 422: 1}
    assert BasketLine.objects.get(basket=basket).quantity == 99


def test_ten_clients_adding_new_products_to_a_basket_of_195_lines_stop_it_at_200(token):
    # Each scan counts the lines before adding one: a count that missed a line committed
    # by a scan it waited for would let the basket pass 200.
    customer, raw = token
    shop = make_shop()
    basket = BasketFactory(customer=customer, store=shop.store)
    BasketLineFactory.create_batch(195, basket=basket, product=shop.bread, kind="price_label", label_price_fen=1500)
    codes = stocked_codes(shop.store, THREADS)

    def scan_one(index: int) -> list[int]:
        url = f"/api/v1/baskets/{basket.pk}/scan"
        return [client(raw).post(url, {"barcode": codes[index]}, format="json").status_code]

    statuses = in_parallel(scan_one)

    assert Counter(statuses) == {200: 5, 422: 5}
    assert BasketLine.objects.filter(basket=basket).count() == 200
    assert BasketLine.objects.filter(basket=basket, barcode__in=codes).count() == 5


def test_ten_clients_opening_a_basket_at_once_share_one(token):
    customer, raw = token
    shop = make_shop()
    ids: list[int] = []

    def open_basket(_: int) -> list[int]:
        response = client(raw).post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json")
        ids.append(response.json()["id"])
        return [response.status_code]

    statuses = in_parallel(open_basket)

    assert Counter(statuses) == {201: 1, 200: THREADS - 1}
    assert len(set(ids)) == 1
    assert Basket.objects.filter(customer=customer).count() == 1
