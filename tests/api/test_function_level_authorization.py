"""Staff functions are for staff (OWASP API5, broken function level authorization).

Shoppers are users of the same model as staff (``AUTH_USER_MODEL``), so the line between
them is ``is_staff`` and the admin's permissions, and the shopper's bearer token must open
nothing of the admin. The API side (gate endpoints refuse a shopper's token, shopper
endpoints refuse a gate's credential) is checked for every endpoint in
``tests/api/test_auth_api.py``.
"""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from miniprogram_api.accounts.models import Customer
from promotions.models import GiftCard
from tests.factories import CustomerFactory, client_for
from tests.promotions.gift_card_setup import make_card

pytestmark = pytest.mark.django_db

CARDS = "/admin/promotions/giftcard/"
PASSWORD = "a-strong-password-for-tests"
_clerks = itertools.count(1)


def staff_member(*permissions: str) -> Client:
    """A signed-in staff member holding only ``permissions``."""
    user = Customer.objects.create_user(f"clerk-{next(_clerks)}", password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    client = Client()
    client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.parametrize("path", ["/admin/", CARDS, "/admin/checkout/order/"])
def test_a_shoppers_bearer_token_opens_no_admin_page(path):
    shopper = client_for(CustomerFactory())

    response = shopper.get(path)

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_a_customer_who_is_not_staff_cannot_sign_in_to_the_admin():
    Customer.objects.create_user("shopper-with-password", password=PASSWORD)
    client = Client()

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "shopper-with-password", "password": PASSWORD, "next": "/admin/"}
    )

    assert response.status_code == 200  # the form again, with its error
    assert client.get("/admin/").status_code == 302


def test_staff_without_the_view_permission_do_not_see_gift_cards():
    make_card(CustomerFactory())

    assert staff_member().get(CARDS).status_code == 403
    assert staff_member("view_giftcard").get(CARDS).status_code == 200


def test_freezing_a_card_needs_the_change_permission():
    card = make_card(CustomerFactory())
    action = {"action": "freeze_selected", "_selected_action": [card.pk], "reason": "stolen phone"}

    viewer = staff_member("view_giftcard")
    page = viewer.get(CARDS).content.decode()
    viewer.post(CARDS, action)

    assert "freeze_selected" not in page
    assert GiftCard.objects.get(pk=card.pk).status == "active"
    staff_member("view_giftcard", "change_giftcard").post(CARDS, action)
    assert GiftCard.objects.get(pk=card.pk).status == "frozen"
