"""Gift cards for staff: the card list and page with its ledger (read-only: nothing in the
admin edits money), search, freezing and unfreezing, the shares and the amounts on sale;
and the ``check_gift_card_ledgers`` command that compares every card with its ledger."""

from __future__ import annotations

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command

from promotions import gift_cards
from promotions.models import GiftCard, GiftCardDenomination, GiftCardShare
from tests.factories import CustomerFactory

from .gift_card_setup import hold_on, make_card

pytestmark = pytest.mark.django_db

CARDS = "/admin/promotions/giftcard/"


@pytest.fixture
def staff_client(client):
    client.force_login(CustomerFactory(is_staff=True, is_superuser=True))
    return client


def test_the_card_list_shows_masked_codes_owners_and_money(staff_client):
    owner = CustomerFactory(nickname="Lily")
    card = make_card(owner, 20_000)
    hold_on(card, 5_000)

    page = staff_client.get(CARDS).content.decode()

    assert card.masked_code in page and card.code not in page
    assert "Lily" in page and "¥150.00" in page and "¥50.00" in page


def test_the_card_list_costs_the_same_for_one_card_or_thirty(staff_client, django_assert_max_num_queries):
    make_card(CustomerFactory())
    with django_assert_max_num_queries(12):
        assert staff_client.get(CARDS).status_code == 200
    for _ in range(29):
        make_card(CustomerFactory())
    with django_assert_max_num_queries(12):
        assert staff_client.get(CARDS).status_code == 200


@pytest.mark.parametrize("term", ["full", "last4", "owner"])
def test_cards_are_found_by_code_its_last_digits_or_owner(staff_client, term):
    card = make_card(CustomerFactory(username="wx:test:findme"))
    other = make_card(CustomerFactory())
    query = {"full": card.code, "last4": card.code[-4:], "owner": "findme"}[term]

    page = staff_client.get(CARDS, {"q": query}).content.decode()

    assert card.masked_code in page
    if other.code[-4:] != card.code[-4:]:
        assert other.masked_code not in page


def test_the_card_page_shows_its_ledger_and_saves_nothing(staff_client):
    card = make_card(CustomerFactory(), 20_000)
    hold_on(card, 3_000, order_id=4242)
    url = f"{CARDS}{card.pk}/change/"

    page = staff_client.get(url).content.decode()
    staff_client.post(url, {"balance_fen": 100_000, "held_fen": 0, "status": "active", "owner": card.owner_id})

    assert "ledger" in page.lower() and "4242" in page and "-¥30.00" in page
    assert 'name="_save"' not in page
    card.refresh_from_db()
    assert (card.balance_fen, card.held_fen) == (17_000, 3_000)
    assert staff_client.get(f"{CARDS}add/").status_code == 403
    assert staff_client.post(f"{CARDS}{card.pk}/delete/", {"post": "yes"}).status_code == 403
    assert GiftCard.objects.filter(pk=card.pk).exists()


def test_staff_freeze_with_a_reason_and_unfreeze(staff_client):
    card = make_card(CustomerFactory())
    other = make_card(CustomerFactory())

    staff_client.post(CARDS, {"action": "freeze_selected", "_selected_action": [card.pk], "reason": ""})
    assert GiftCard.objects.get(pk=card.pk).status == "active"

    staff_client.post(CARDS, {"action": "freeze_selected", "_selected_action": [card.pk], "reason": "lost phone"})
    card.refresh_from_db()
    assert (card.status, card.frozen_reason) == ("frozen", "lost phone") and card.frozen_at is not None
    assert GiftCard.objects.get(pk=other.pk).status == "active"
    assert LogEntry.objects.filter(object_id=str(card.pk), change_message__contains="lost phone").exists()

    staff_client.post(CARDS, {"action": "unfreeze_selected", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert (card.status, card.frozen_at) == ("active", None)
    assert LogEntry.objects.filter(object_id=str(card.pk), change_message__startswith="Unfrozen").exists()


def test_shares_are_listed_read_only_without_their_secret(staff_client):
    sharer = CustomerFactory()
    card = make_card(sharer)
    gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk, message="enjoy")
    share = GiftCardShare.objects.get()

    listing = staff_client.get("/admin/promotions/giftcardshare/")
    page = staff_client.get(f"/admin/promotions/giftcardshare/{share.pk}/change/").content.decode()

    assert listing.status_code == 200 and "Open" in listing.content.decode()
    assert share.secret_hash not in page and "enjoy" in page
    assert staff_client.get("/admin/promotions/giftcardshare/add/").status_code == 403


def test_staff_edit_the_denominations_on_sale(staff_client):
    response = staff_client.post(
        "/admin/promotions/giftcarddenomination/add/", {"amount_fen": 8_800, "active": "on", "sort_order": 3}
    )
    assert response.status_code == 302
    assert GiftCardDenomination.objects.filter(amount_fen=8_800, active=True).exists()
    refused = staff_client.post(
        "/admin/promotions/giftcarddenomination/add/", {"amount_fen": 100_001, "active": "on", "sort_order": 3}
    )
    assert refused.status_code == 200 and not GiftCardDenomination.objects.filter(amount_fen=100_001).exists()


# --- check_gift_card_ledgers -----------------------------------------------------------------


def test_the_ledger_check_passes_when_every_card_matches(capsys):
    make_card(CustomerFactory())
    hold_on(make_card(CustomerFactory()), 1_000)
    out = io.StringIO()

    call_command("check_gift_card_ledgers", stdout=out)

    assert "2 gift card(s) checked" in out.getvalue()


def test_the_ledger_check_names_each_card_that_differs_and_fails():
    good = make_card(CustomerFactory(), 10_000)
    bad = make_card(CustomerFactory(), 10_000)
    GiftCard.objects.filter(pk=bad.pk).update(balance_fen=12_000)  # money moved outside the ledger
    out = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("check_gift_card_ledgers", stdout=out)

    assert failed.value.returncode == 1
    assert f"card {bad.pk}: balance 12000 fen, ledger 10000 fen" in out.getvalue()
    assert f"card {good.pk}:" not in out.getvalue()
