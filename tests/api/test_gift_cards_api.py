"""The gift-card endpoints: reading my cards, buying and topping up (input, the cap,
Idempotency-Key), sharing, cancelling and claiming, each refusal with its stable code and
nothing written; and, on PostgreSQL, friends racing for one token and top-ups racing for
the cap."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from checkout.models import Order, Payment
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.core import clock
from promotions import gift_card_ledger as ledger
from promotions import gift_cards
from promotions.models import GiftCard, GiftCardDenomination, GiftCardShare, GiftCardTransaction
from tests.factories import CustomerFactory, client_for
from tests.parallel import run_in_parallel
from tests.promotions.gift_card_setup import default_denominations, hold_on, make_card

pytestmark = pytest.mark.django_db

FAKE_PARAMS = {"appId": "wx-test", "package": "prepay_id=wx-test"}


@pytest.fixture
def no_provider(monkeypatch):
    """Creating the trade at the provider is tested with the sandbox elsewhere."""

    def create_at_provider(payment):
        Payment.objects.filter(pk=payment.pk).update(client_params=FAKE_PARAMS)
        return FAKE_PARAMS

    monkeypatch.setattr("checkout.scan_and_pay.create_at_provider", create_at_provider)


@pytest.fixture
def friend_client():
    friend = CustomerFactory()
    client = client_for(friend)
    client.customer = friend
    return client


def error_code(response) -> str:
    return response.json()["error"]["code"]


def buy(client, body, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/gift-cards", body, format="json", **headers)


def share(client, card_id: int, body=None, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/gift-cards/{card_id}/share", body or {}, format="json", **headers)


def claim(client, token, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/gift-cards/claim", {"token": token}, format="json", **headers)


def state(card: GiftCard) -> tuple:
    card.refresh_from_db()
    return card.owner_id, card.balance_fen, card.held_fen, card.status, card.transactions.count()


# --- Reading ---------------------------------------------------------------------------------


def test_every_endpoint_needs_a_signed_in_shopper(api_client):
    card = make_card(CustomerFactory())
    assert api_client.get("/api/v1/gift-cards").status_code == 401
    assert api_client.post("/api/v1/gift-cards", {}, format="json").status_code == 401
    assert api_client.get("/api/v1/gift-cards/denominations").status_code == 401
    assert api_client.get(f"/api/v1/gift-cards/{card.pk}").status_code == 401
    assert api_client.post(f"/api/v1/gift-cards/{card.pk}/share", {}, format="json").status_code == 401
    assert api_client.post("/api/v1/gift-cards/claim", {}, format="json").status_code == 401


def test_my_cards_list_shows_mine_masked_with_their_sharing_state(auth_client):
    mine = make_card(auth_client.customer, 20_000)
    offered = make_card(auth_client.customer, 5_000)
    make_card(CustomerFactory(), 50_000)
    gift_cards.share_card(customer_id=auth_client.customer.pk, card_id=offered.pk)

    results = auth_client.get("/api/v1/gift-cards").json()["results"]

    assert [card["id"] for card in results] == [offered.pk, mine.pk]
    first, second = results
    assert first["masked_code"] == "•" * 12 + offered.code[-4:] and "code" not in first
    summary = (first["balance_fen"], first["held_fen"], first["initial_fen"], first["status"])
    assert summary == (5_000, 0, 5_000, "active")
    share_row = GiftCardShare.objects.get()
    assert first["sharing"]["state"] == "offered" and first["sharing"]["share_id"] == share_row.pk
    assert dt.datetime.fromisoformat(first["sharing"]["expires_at"]) == share_row.expires_at
    assert second["sharing"] == {"state": "none", "share_id": None, "expires_at": None}


def test_the_list_costs_the_same_queries_for_one_card_or_twenty(auth_client, django_assert_max_num_queries):
    make_card(auth_client.customer)
    # token, count, page (sharing state as a subquery of the page's query)
    with django_assert_max_num_queries(3):
        assert len(auth_client.get("/api/v1/gift-cards").json()["results"]) == 1
    for _ in range(19):
        gift_cards.share_card(customer_id=auth_client.customer.pk, card_id=make_card(auth_client.customer).pk)
    with django_assert_max_num_queries(3):
        assert len(auth_client.get("/api/v1/gift-cards").json()["results"]) == 20


def test_a_card_shows_its_full_code_and_ledger_to_its_owner(auth_client, django_assert_max_num_queries):
    card = make_card(auth_client.customer, 20_000)
    hold_on(card, 3_000, order_id=123)

    with django_assert_max_num_queries(3):  # token, card with sharing, ledger rows
        response = auth_client.get(f"/api/v1/gift-cards/{card.pk}")

    body = response.json()
    assert response.status_code == 200
    assert (body["code"], body["balance_fen"], body["held_fen"]) == (card.code, 17_000, 3_000)
    fields = ("kind", "amount_fen", "held_delta_fen", "balance_after_fen", "held_after_fen", "order_id")
    assert [tuple(row[f] for f in fields) for row in body["transactions"]] == [
        ("issue", 20_000, 0, 20_000, 0, None),
        ("hold", -3_000, 3_000, 17_000, 3_000, 123),
    ]
    assert all(row["created_at"] for row in body["transactions"])


def test_another_shoppers_card_is_not_found(auth_client):
    theirs = make_card(CustomerFactory())
    for path in (f"/api/v1/gift-cards/{theirs.pk}", "/api/v1/gift-cards/999999", "/api/v1/gift-cards/0"):
        response = auth_client.get(path)
        assert response.status_code == 404, path
    assert error_code(auth_client.get(f"/api/v1/gift-cards/{theirs.pk}")) == "gift_card_not_found"


def test_denominations_lists_the_active_amounts_and_the_custom_range(auth_client, settings):
    default_denominations()
    GiftCardDenomination.objects.filter(amount_fen=50_000).update(active=False)
    settings.GIFT_CARD_CUSTOM_MIN_FEN = 2_000

    body = auth_client.get("/api/v1/gift-cards/denominations").json()

    assert body == {
        "denominations_fen": [5_000, 10_000, 20_000, 100_000],
        "custom_min_fen": 2_000,
        "custom_max_fen": 100_000,
        "cap_fen": 100_000,
    }


# --- Buying and topping up -------------------------------------------------------------------


def test_buying_answers_the_pending_order_and_the_payment_params(auth_client, no_provider):
    response = buy(auth_client, {"amount_fen": 20_000, "payment_method": "wechat_pay"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["payment_params"] == FAKE_PARAMS
    order = body["order"]
    assert (order["channel"], order["state"], order["total_fen"], order["item_count"], order["lines"]) == (
        "online",
        "pending_payment",
        20_000,
        0,
        [],
    )
    assert Order.objects.get().kind == "gift_card"


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [
        (True, 400, "validation_error"),
        ("20000", 400, "validation_error"),
        (200.0, 400, "validation_error"),
        (None, 400, "validation_error"),
        (0, 400, "gift_card_amount_not_positive"),
        (-20_000, 400, "gift_card_amount_not_positive"),
        (999, 422, "gift_card_amount_not_offered"),
        (100_001, 422, "gift_card_cap_exceeded"),
    ],
)
def test_a_bad_amount_is_refused_with_a_clear_code_and_writes_nothing(auth_client, no_provider, amount, status, code):
    response = buy(auth_client, {"amount_fen": amount, "payment_method": "wechat_pay"})

    assert (response.status_code, error_code(response)) == (status, code)
    assert not Order.objects.exists() and not Payment.objects.exists()


def test_a_missing_amount_or_unknown_payment_method_is_a_400(auth_client, no_provider):
    assert error_code(buy(auth_client, {"payment_method": "wechat_pay"})) == "validation_error"
    response = buy(auth_client, {"amount_fen": 5_000, "payment_method": "cash"})
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert not Order.objects.exists()


def test_a_retried_purchase_with_the_same_key_creates_one_order(auth_client, no_provider):
    body = {"amount_fen": 5_000, "payment_method": "alipay"}
    first = buy(auth_client, body, key="buy-1")
    again = buy(auth_client, body, key="buy-1")
    other = buy(auth_client, {**body, "amount_fen": 10_000}, key="buy-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert (other.status_code, error_code(other)) == (422, "idempotency_key_reused")
    assert Order.objects.count() == 1


def test_a_top_up_past_the_cap_is_a_422_and_writes_nothing(auth_client, no_provider):
    card = make_card(auth_client.customer, 95_000)

    response = auth_client.post(
        f"/api/v1/gift-cards/{card.pk}/top-up", {"amount_fen": 5_001, "payment_method": "wechat_pay"}, format="json"
    )

    assert (response.status_code, error_code(response)) == (422, "gift_card_cap_exceeded")
    assert response.json()["error"]["details"]["room_fen"] == 5_000
    assert not Order.objects.exists()
    ok = auth_client.post(
        f"/api/v1/gift-cards/{card.pk}/top-up", {"amount_fen": 5_000, "payment_method": "wechat_pay"}, format="json"
    )
    assert ok.status_code == 201 and Order.objects.get().gift_card_id == card.pk


@pytest.mark.parametrize(
    ("amount", "code"),
    [(0, "gift_card_amount_not_positive"), (-1, "gift_card_amount_not_positive"), (False, "validation_error")],
)
def test_a_zero_or_negative_top_up_is_a_400(auth_client, no_provider, amount, code):
    card = make_card(auth_client.customer, 10_000)
    response = auth_client.post(
        f"/api/v1/gift-cards/{card.pk}/top-up", {"amount_fen": amount, "payment_method": "wechat_pay"}, format="json"
    )
    assert (response.status_code, error_code(response)) == (400, code)
    assert not Order.objects.exists()


def test_another_shoppers_card_cannot_be_topped_up(auth_client, no_provider):
    theirs = make_card(CustomerFactory(), 10_000)
    response = auth_client.post(
        f"/api/v1/gift-cards/{theirs.pk}/top-up", {"amount_fen": 5_000, "payment_method": "wechat_pay"}, format="json"
    )
    assert (response.status_code, error_code(response)) == (404, "gift_card_not_found")
    assert not Order.objects.exists()


# --- Sharing ---------------------------------------------------------------------------------


def test_sharing_answers_the_token_and_the_wechat_share_card(auth_client):
    card = make_card(auth_client.customer, 20_000)

    response = share(auth_client, card.pk, {"message": "生日快乐"})

    assert response.status_code == 201, response.content
    body = response.json()
    stored = GiftCardShare.objects.get()
    assert body["share_id"] == stored.pk and body["token"].startswith(f"GS1.{stored.pk}.")
    assert dt.datetime.fromisoformat(body["expires_at"]) == stored.expires_at
    assert body["amount_fen"] == 20_000
    assert body["wechat_share"] == {
        "title": "送你一张¥200.00礼品卡",
        "path": f"pages/gift-card/claim?token={body['token']}",
        "message": "生日快乐",
    }


def test_a_retried_share_with_the_same_key_makes_one_share(auth_client):
    card = make_card(auth_client.customer)
    first = share(auth_client, card.pk, key="share-1")
    again = share(auth_client, card.pk, key="share-1")

    assert again.status_code == 201 and again.json()["token"] == first.json()["token"]
    assert GiftCardShare.objects.count() == 1


def test_sharing_refusals(auth_client):
    frozen = make_card(auth_client.customer)
    gift_cards.freeze_card(card_id=frozen.pk, reason="stolen phone")
    paying = make_card(auth_client.customer)
    hold_on(paying, 1_000)
    theirs = make_card(CustomerFactory())
    offered = make_card(auth_client.customer)
    assert share(auth_client, offered.pk).status_code == 201

    cases = [
        (share(auth_client, frozen.pk), 409, "gift_card_frozen"),
        (share(auth_client, paying.pk), 409, "gift_card_payment_pending"),
        (share(auth_client, offered.pk), 409, "gift_card_already_shared"),
        (share(auth_client, theirs.pk), 404, "gift_card_not_found"),
        (share(auth_client, offered.pk, {"message": "x" * 201}), 400, "validation_error"),
        (share(auth_client, offered.pk, {"message": 5}), 400, "validation_error"),
    ]

    assert [(r.status_code, error_code(r)) for r, _, _ in cases] == [(s, c) for _, s, c in cases]
    assert GiftCardShare.objects.count() == 1


def test_cancelling_a_share(auth_client, friend_client):
    card = make_card(auth_client.customer)
    token = share(auth_client, card.pk).json()["token"]

    assert friend_client.delete(f"/api/v1/gift-cards/{card.pk}/share").status_code == 404
    assert auth_client.delete(f"/api/v1/gift-cards/{card.pk}/share").status_code == 204
    again = auth_client.delete(f"/api/v1/gift-cards/{card.pk}/share")
    assert (again.status_code, error_code(again)) == (409, "gift_card_not_shared")
    refused = claim(friend_client, token)
    assert (refused.status_code, error_code(refused)) == (409, "gift_card_share_cancelled")
    assert GiftCard.objects.get(pk=card.pk).owner_id == auth_client.customer.pk


# --- Claiming --------------------------------------------------------------------------------


def test_a_friend_claims_the_card_and_the_sharer_loses_it(auth_client, friend_client):
    card = make_card(auth_client.customer, 20_000)
    token = share(auth_client, card.pk).json()["token"]

    response = claim(friend_client, token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["balance_fen"], body["sharing"]["state"]) == (card.pk, 20_000, "none")
    assert [c["id"] for c in friend_client.get("/api/v1/gift-cards").json()["results"]] == [card.pk]
    assert auth_client.get("/api/v1/gift-cards").json()["results"] == []
    assert auth_client.get(f"/api/v1/gift-cards/{card.pk}").status_code == 404
    detail = friend_client.get(f"/api/v1/gift-cards/{card.pk}").json()
    assert [row["kind"] for row in detail["transactions"]] == ["transfer"]


def test_a_tampered_token_is_a_400_and_changes_nothing(auth_client, friend_client):
    card = make_card(auth_client.customer)
    token = share(auth_client, card.pk).json()["token"]
    before = state(card)

    for bad in (token[:-2] + ("xy" if not token.endswith("xy") else "zz"), token + "0", "GS1.1.abc", "hello"):
        response = claim(friend_client, bad)
        assert (response.status_code, error_code(response)) == (400, "invalid_share_token"), bad
    assert error_code(claim(friend_client, 12345)) == "validation_error"

    assert state(card) == before
    assert GiftCardShare.objects.get().status == "open"


def test_a_replayed_claim_is_refused_but_a_retry_with_its_key_gets_the_first_answer(auth_client, friend_client):
    card = make_card(auth_client.customer)
    token = share(auth_client, card.pk).json()["token"]
    first = claim(friend_client, token, key="claim-1")
    after = state(card)

    retried = claim(friend_client, token, key="claim-1")
    replayed = claim(friend_client, token)
    stranger = claim(client_for(CustomerFactory()), token)

    assert retried.status_code == 200 and retried.json() == first.json()
    assert (replayed.status_code, error_code(replayed)) == (409, "gift_card_share_claimed")
    assert (stranger.status_code, error_code(stranger)) == (409, "gift_card_share_claimed")
    assert state(card) == after
    assert GiftCardTransaction.objects.filter(card=card, kind="transfer").count() == 1


def test_claim_refusals_own_card_expired_and_frozen(auth_client, friend_client, monkeypatch):
    own = make_card(auth_client.customer)
    own_token = share(auth_client, own.pk).json()["token"]
    frozen = make_card(auth_client.customer)
    frozen_token = share(auth_client, frozen.pk).json()["token"]
    gift_cards.freeze_card(card_id=frozen.pk, reason="fraud check")
    expiring = make_card(auth_client.customer)
    expiring_token = share(auth_client, expiring.pk).json()["token"]

    mine = claim(auth_client, own_token)
    cold = claim(friend_client, frozen_token)
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now + dt.timedelta(hours=24, seconds=1))
    late = claim(friend_client, expiring_token)

    assert (mine.status_code, error_code(mine)) == (422, "gift_card_own_share")
    assert (cold.status_code, error_code(cold)) == (409, "gift_card_frozen")
    assert (late.status_code, error_code(late)) == (409, "gift_card_share_expired")
    assert set(GiftCard.objects.values_list("owner_id", flat=True)) == {auth_client.customer.pk}
    assert GiftCardShare.objects.get(card=expiring).status == "expired"


# --- Parallel clients (PostgreSQL) -----------------------------------------------------------


def _clients(n: int) -> list[tuple[int, str]]:
    out = []
    for _ in range(n):
        customer = CustomerFactory()
        out.append((customer.pk, issue_token(customer=customer)[0]))
    return out


def _client(raw: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_friends_claiming_one_token_at_once_one_wins():
    sharer = CustomerFactory()
    card = make_card(sharer, 20_000)
    token = gift_cards.share_card(customer_id=sharer.pk, card_id=card.pk).token
    friends = _clients(8)

    def claim_once(index: int) -> tuple[int, str]:
        response = claim(_client(friends[index][1]), token)
        return response.status_code, response.json().get("error", {}).get("code", "claimed")

    results = run_in_parallel(claim_once, 8)

    assert Counter(results) == {(200, "claimed"): 1, (409, "gift_card_share_claimed"): 7}
    winner = GiftCardShare.objects.get().claimed_by_id
    card.refresh_from_db()
    assert card.owner_id == winner and winner in {pk for pk, _ in friends}
    assert (card.balance_fen, card.held_fen) == (20_000, 0)
    assert GiftCardTransaction.objects.filter(card=card, kind="transfer").count() == 1
    assert ledger.ledger_problems() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_top_ups_racing_for_one_card_never_promise_past_the_cap(no_provider):
    owner = CustomerFactory()
    raw, _ = issue_token(customer=owner)
    card = make_card(owner, 75_000)

    def top_up_once(index: int) -> tuple[int, str]:
        response = _client(raw).post(
            f"/api/v1/gift-cards/{card.pk}/top-up",
            {"amount_fen": 10_000, "payment_method": "wechat_pay"},
            format="json",
        )
        return response.status_code, response.json().get("error", {}).get("code", "created")

    results = run_in_parallel(top_up_once, 6)

    assert Counter(results) == {(201, "created"): 2, (422, "gift_card_cap_exceeded"): 4}
    assert Order.objects.filter(gift_card=card, kind="gift_card_top_up").count() == 2
