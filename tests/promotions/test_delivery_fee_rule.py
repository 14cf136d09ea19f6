"""The default delivery fee rule ships with the schema, and pricing finds the city's own
rule before it."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from promotions.loading import delivery_fee
from promotions.models import DeliveryFeeRule
from tests.factories import CityFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("promotions.migrations.0003_default_delivery_fee_rule")


def test_the_default_rule_charges_8_rmb_below_169_and_is_created_once():
    DeliveryFeeRule.objects.all().delete()  # a transactional test may have flushed it

    migration.create_default_rule(apps, None)
    migration.create_default_rule(apps, None)

    rule = DeliveryFeeRule.objects.get()
    assert (rule.city_id, rule.fee_fen, rule.free_from_fen) == (None, 800, 16_900)


def test_a_city_rule_wins_over_the_default_and_no_rule_means_no_fee():
    DeliveryFeeRule.objects.all().delete()
    city, other = CityFactory(), CityFactory(code="beijing", name="Beijing", name_zh="北京")
    assert delivery_fee(city_id=city.pk) is None

    DeliveryFeeRule.objects.create(city=None, fee_fen=800, free_from_fen=16_900)
    DeliveryFeeRule.objects.create(city=city, fee_fen=600, free_from_fen=9_900)

    assert (delivery_fee(city_id=city.pk).fee_fen, delivery_fee(city_id=city.pk).free_from_fen) == (600, 9_900)
    assert delivery_fee(city_id=other.pk).fee_fen == 800
