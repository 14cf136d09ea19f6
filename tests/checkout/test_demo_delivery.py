"""Demo couriers: every active city gets three, once."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from checkout.models import Courier
from tests.factories import CityFactory

pytestmark = pytest.mark.django_db


def test_seed_demo_delivery_creates_three_couriers_per_active_city_once():
    shanghai = CityFactory()
    CityFactory(code="beijing", name="Beijing", name_zh="北京", active=False)

    call_command("seed_demo_delivery")
    call_command("seed_demo_delivery")

    assert Courier.objects.count() == 3
    assert set(Courier.objects.values_list("city_id", flat=True)) == {shanghai.pk}


def test_the_admin_lists_couriers_pick_lists_and_courier_events(admin_client):
    CityFactory()
    call_command("seed_demo_delivery")
    for url in ("/admin/checkout/courier/", "/admin/checkout/picklist/", "/admin/checkout/courierevent/"):
        assert admin_client.get(url).status_code == 200
