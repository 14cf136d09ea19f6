"""The money of a return going back to the tenders that paid the order.

``write_refunds`` splits a return's amount over the order's tenders (its gift cards, by
what each captured, and its paid WeChat Pay or Alipay payment; the rule is
``money.split_refund``) and writes one ``Refund`` per tender, in the return's transaction.
A gift card's refund is credited there and then (``gift_card_ledger.credit``: what no
longer fits under the card's cap, or all of it if the card now belongs to someone else,
goes onto a new card for the shopper) and is ``succeeded`` when written. An external
refund is written ``pending`` and sent after commit by a task (``send_refund``); the
provider's answer, its notification and the polling job all end in
``apply_refund_status``, which records each outcome once (a conditional UPDATE on the
refund's state, under its row lock) however often and in whatever order they come.

``out_refund_no`` (``<order number>F<n>``) is the idempotency key at the provider, so
sending a refund again (a retry, the poller, staff) can never pay it twice. Provider
calls run outside any transaction; a refund being sent or queried is leased through
``last_attempt_at`` so two workers never work on it at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum

from miniprogram_api.core import clock, metrics, money
from miniprogram_api.core.enqueue import delay_on_commit
from miniprogram_api.core.errors import NotFound, Unprocessable
from promotions import gift_card_ledger
from promotions.models import GiftCardTransaction

from . import order_states
from .models import Order, Payment
from .payments.base import PaymentProviderError, PaymentProviderUnavailable, RefundStatus
from .payments.providers import get_provider
from .returns_models import Refund, Return

logger = logging.getLogger(__name__)

S = Refund.State
EXTERNAL_TENDERS = (Refund.Tender.WECHAT_PAY, Refund.Tender.ALIPAY)
NOTIFY_PATHS = {"wechat_pay": "/api/payments/wechatpay/notify", "alipay": "/api/payments/alipay/notify"}
REASON_MAX_CHARS = 80  # WeChat Pay's limit on a refund's reason
# What a provider answers for a refund it never received.
NEVER_CREATED = frozenset({"RESOURCE_NOT_EXISTS", "ACQ.TRADE_NOT_EXIST"})


class UnknownRefund(NotFound):
    code = "unknown_refund"
    default_message = "No refund with this out_refund_no."


class RefundAmountMismatch(Unprocessable):
    code = "refund_amount_mismatch"
    default_message = "The provider's refund amount differs from ours."


class RefundExceedsTenders(Unprocessable):
    """The tenders have less left than the return is worth: only after a late payment
    whose gift-card part could not be taken again (``gift_card_ledger.retake_for_order``).
    Staff settle such an order by hand."""

    code = "refund_needs_staff"
    default_message = "This return cannot be refunded automatically; please ask at a service desk."


# --- Writing the refunds of a return ----------------------------------------------------------


def write_refunds(*, order: Order, return_request: Return, now: dt.datetime) -> list[Refund]:
    """One refund per tender with something to get back (caller holds the order's lock)."""
    card_paid = gift_card_ledger.captured_for_order(order.pk)
    payment = Payment.objects.filter(order_id=order.pk, state=Payment.State.PAID).order_by("pk").first()
    external_paid = payment.amount_fen if payment is not None else 0
    refunded = {
        (row["gift_card_id"], row["payment_id"]): row["fen"]
        for row in Refund.objects.filter(order_id=order.pk)
        .values("gift_card_id", "payment_id")
        .annotate(fen=Sum("amount_fen"))
    }
    card_remaining = {card_id: paid - refunded.get((card_id, None), 0) for card_id, paid in card_paid.items()}
    external_remaining = external_paid - (refunded.get((None, payment.pk), 0) if payment is not None else 0)
    try:
        to_cards, to_external = money.split_refund(
            return_request.amount_fen,
            card_paid=card_paid,
            card_remaining=card_remaining,
            external_paid=external_paid,
            external_remaining=external_remaining,
        )
    except ValueError:
        logger.error("order %s: return %s exceeds what its tenders can take", order.number, return_request.number)
        raise RefundExceedsTenders(
            details={
                "amount_fen": return_request.amount_fen,
                "refundable_fen": sum(card_remaining.values()) + external_remaining,
            }
        ) from None

    numbers = _refund_numbers(order)
    written: list[Refund] = []
    cards = gift_card_ledger.lock_cards(to_cards)
    for card_id, amount_fen in sorted(to_cards.items()):
        refund = Refund.objects.create(
            return_request=return_request,
            order=order,
            tender=Refund.Tender.GIFT_CARD,
            gift_card_id=card_id,
            out_refund_no=next(numbers),
            amount_fen=amount_fen,
            state=S.SUCCEEDED,
            last_attempt_at=now,
            succeeded_at=now,
        )
        credited = gift_card_ledger.credit(
            cards[card_id],
            amount_fen=amount_fen,
            kind=GiftCardTransaction.Kind.REFUND,
            customer_id=order.customer_id,
            order_id=order.pk,
            refund_id=refund.pk,
        )
        refund.data = {
            "card_id": credited.card_id,
            "credited_fen": credited.amount_fen,
            "overflow_card_id": credited.overflow_card_id,
            "overflow_fen": credited.overflow_fen,
        }
        Refund.objects.filter(pk=refund.pk).update(data=refund.data)
        written.append(refund)
    if to_external:
        written.append(
            Refund.objects.create(
                return_request=return_request,
                order=order,
                tender=payment.provider,
                payment=payment,
                out_refund_no=next(numbers),
                amount_fen=to_external,
                state=S.PENDING,
            )
        )
    return written


def _refund_numbers(order: Order):
    """``<order number>F<n>``: unique, at most 32 characters of WeChat Pay's alphabet
    (order numbers are 21), counted per order under its lock."""
    n = Refund.objects.filter(order_id=order.pk).count()
    while True:
        n += 1
        yield f"{order.number}F{n}"


def send_after_commit(refunds: Sequence[Refund]) -> None:
    """Enqueue the sending of the external refunds once their rows are committed."""
    from .tasks import send_refund

    for refund in refunds:
        if refund.tender in EXTERNAL_TENDERS and refund.state == S.PENDING:
            # A broker outage must not fail the return that was just committed: poll-refunds
            # sends a refund whose task never came.
            delay_on_commit(send_refund, refund.pk, redriven_by="poll-refunds")


# --- Sending and following up --------------------------------------------------------------


def _due(now: dt.datetime) -> Q:
    """Never attempted (and not just written: its own task is on the way), or attempted
    longer ago than the lease."""
    after = now - dt.timedelta(seconds=settings.REFUND_POLL_AFTER_SECONDS)
    return Q(last_attempt_at__isnull=True, created_at__lt=after) | Q(last_attempt_at__lt=after)


def _claim(queryset, *, now: dt.datetime, batch_size: int) -> list[Refund]:
    """Lease up to ``batch_size`` refunds no other worker holds."""
    with transaction.atomic():
        claimed = list(
            queryset.filter(tender__in=EXTERNAL_TENDERS).select_for_update(skip_locked=True).order_by("pk")[:batch_size]
        )
        Refund.objects.filter(pk__in=[refund.pk for refund in claimed]).update(last_attempt_at=now)
    return claimed


def send_refund(*, refund_id: int) -> str:
    """Send one pending refund to its provider (the task enqueued when it was written);
    what happened: ``succeeded``, ``processing``, ``failed``, ``retry`` (the provider did
    not answer: the poller sends it again) or ``not_due`` (sent already, or being sent)."""
    now = clock.now()
    lease = Q(last_attempt_at__isnull=True) | Q(
        last_attempt_at__lt=now - dt.timedelta(seconds=settings.REFUND_POLL_AFTER_SECONDS)
    )
    claimed = _claim(Refund.objects.filter(lease, pk=refund_id, state=S.PENDING), now=now, batch_size=1)
    return _send(claimed[0]) if claimed else "not_due"


def poll_refunds(*, batch_size: int = 100) -> int:
    """Periodic: send again the refunds still pending (their task was lost, or the
    provider was down) and ask about those still processing (no notification yet).
    Returns how many reached a final state."""
    now = clock.now()
    due = Refund.objects.filter(_due(now), state__in=(S.PENDING, S.PROCESSING))
    final = 0
    for refund in _claim(due, now=now, batch_size=batch_size):
        outcome = _send(refund) if refund.state == S.PENDING else _query(refund)
        final += outcome in ("succeeded", "failed")
    return final


def _send(refund: Refund) -> str:
    payment = Payment.objects.get(pk=refund.payment_id)
    reason = Return.objects.filter(pk=refund.return_request_id).values_list("reason", flat=True).first() or ""
    try:
        status = get_provider(refund.tender).refund(
            out_trade_no=payment.out_trade_no,
            out_refund_no=refund.out_refund_no,
            refund_fen=refund.amount_fen,
            total_fen=payment.amount_fen,
            reason=(reason or "No-questions return")[:REASON_MAX_CHARS],
            notify_url=settings.PUBLIC_BASE_URL + NOTIFY_PATHS[refund.tender],
        )
    except PaymentProviderUnavailable as exc:
        logger.warning("refund %s not sent, will retry: %s", refund.out_refund_no, exc.code)
        return "retry"
    except PaymentProviderError as exc:
        return _refused(refund, exc)
    return _apply_quietly(refund, status, source="refund_call")


def _query(refund: Refund) -> str:
    out_trade_no = Payment.objects.values_list("out_trade_no", flat=True).get(pk=refund.payment_id)
    try:
        status = get_provider(refund.tender).query_refund(out_trade_no=out_trade_no, out_refund_no=refund.out_refund_no)
    except PaymentProviderError as exc:
        if exc.details.get("provider_code") in NEVER_CREATED:
            return _send(refund)  # our refund call never reached it: same out_refund_no, safe
        logger.warning("refund %s not queried, will retry: %s", refund.out_refund_no, exc.code)
        return "retry"
    except PaymentProviderUnavailable as exc:
        logger.warning("refund %s not queried, will retry: %s", refund.out_refund_no, exc.code)
        return "retry"
    if status.state == "processing" and refund.tender == Refund.Tender.ALIPAY:
        # Alipay's query does not know a refund whose call it never finished (or says
        # nothing while it is under way); its documented remedy is to ask again with the
        # same out_request_no, which either refunds now or answers the refund made before.
        return _send(refund)
    return _apply_quietly(refund, status, source="refund_query")


def _apply_quietly(refund: Refund, status: RefundStatus, *, source: str) -> str:
    """From a job: a refund that does not match is for staff (recorded), not an error."""
    try:
        return apply_refund_status(provider=refund.tender, status=status, source=source)
    except (UnknownRefund, RefundAmountMismatch) as exc:
        logger.error("refund %s needs staff: %s", refund.out_refund_no, exc.code)
        return "needs_staff"


def _refused(refund: Refund, exc: PaymentProviderError) -> str:
    """The provider said no (the amount is above what remains, the trade is too old...):
    the refund failed and staff decide, the return ``needs_attention``."""
    code = str(exc.details.get("provider_code") or exc.code)[:64]
    logger.error("refund %s refused by %s: %s", refund.out_refund_no, refund.tender, code)
    with transaction.atomic():
        moved = Refund.objects.filter(pk=refund.pk, state__in=(S.PENDING, S.PROCESSING)).update(
            state=S.FAILED, failure_code=code
        )
        if moved:
            order_states.record_event(
                order_id=refund.order_id,
                event="refund_failed",
                data={"out_refund_no": refund.out_refund_no, "failure_code": code, "source": "refund_call"},
            )
            _settle_return(refund.return_request_id)
    metrics.REFUND_STATUSES.labels(tender=refund.tender, outcome="refused").inc()
    return "failed" if moved else "unchanged"


# --- What the provider says ------------------------------------------------------------------


def apply_refund_status(*, provider: str, status: RefundStatus, source: str) -> str:
    """Record a verified refund status from ``source`` (the refund call's answer, a query, a
    notification): ``succeeded``, ``processing`` or ``failed`` when it moved the refund,
    ``unchanged`` when it said nothing new (a replayed notification). Raises
    ``UnknownRefund`` for a refund we never made and ``RefundAmountMismatch`` (recorded on
    the order, nothing else changed) for the wrong amount."""
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update()
            .filter(out_refund_no=status.out_refund_no, tender=provider, payment__isnull=False)
            .first()
        )
        out_trade_no = (
            Payment.objects.values_list("out_trade_no", flat=True).get(pk=refund.payment_id) if refund else None
        )
        if refund is None or (status.out_trade_no and status.out_trade_no != out_trade_no):
            logger.warning("%s: %s reported an unknown refund %s", source, provider, status.out_refund_no)
            metrics.REFUND_STATUSES.labels(tender=provider, outcome="unknown_refund").inc()
            raise UnknownRefund(details={"out_refund_no": status.out_refund_no})
        if status.amount_fen is None or status.amount_fen == refund.amount_fen:
            outcome = _apply(refund, status, source)
            metrics.REFUND_STATUSES.labels(tender=provider, outcome=outcome).inc()
            return outcome
    logger.error(
        "%s: refund %s amount mismatch: provider %s fen, ours %s fen",
        source,
        refund.out_refund_no,
        status.amount_fen,
        refund.amount_fen,
    )
    order_states.record_event(
        order_id=refund.order_id,
        event="refund_amount_mismatch",
        data={
            "out_refund_no": refund.out_refund_no,
            "source": source,
            "provider_amount_fen": status.amount_fen,
            "amount_fen": refund.amount_fen,
        },
    )
    metrics.REFUND_STATUSES.labels(tender=provider, outcome="amount_mismatch").inc()
    raise RefundAmountMismatch(details={"out_refund_no": status.out_refund_no})


def _apply(refund: Refund, status: RefundStatus, source: str) -> str:
    rows = Refund.objects.filter(pk=refund.pk)
    data = {"out_refund_no": refund.out_refund_no, "amount_fen": refund.amount_fen, "source": source}
    if status.state == "succeeded":
        # Also from failed: the provider's word that the money went back wins (a retry by
        # staff, or a refusal we misread).
        moved = rows.exclude(state=S.SUCCEEDED).update(
            state=S.SUCCEEDED,
            succeeded_at=status.succeeded_at or clock.now(),
            provider_refund_id=status.provider_refund_id or refund.provider_refund_id,
            failure_code="",
        )
        if not moved:
            return "unchanged"
        order_states.record_event(order_id=refund.order_id, event="refund_succeeded", data=data)
        _settle_return(refund.return_request_id)
        return "succeeded"
    if status.state == "processing":
        moved = rows.filter(state=S.PENDING).update(
            state=S.PROCESSING, provider_refund_id=status.provider_refund_id or refund.provider_refund_id
        )
        return "processing" if moved else "unchanged"
    code = _failure_code(status)
    moved = rows.filter(state__in=(S.PENDING, S.PROCESSING)).update(state=S.FAILED, failure_code=code)
    if not moved:
        return "unchanged"
    logger.error("refund %s failed at %s: %s", refund.out_refund_no, refund.tender, code)
    order_states.record_event(order_id=refund.order_id, event="refund_failed", data={**data, "failure_code": code})
    _settle_return(refund.return_request_id)
    return "failed"


def _failure_code(status: RefundStatus) -> str:
    raw = status.raw or {}
    return str(raw.get("status") or raw.get("refund_status") or raw.get("sub_code") or "failed")[:64]


def _settle_return(return_id: int) -> None:
    """The return follows its refunds: refunded once all succeeded, needs_attention while
    one has failed, refunding otherwise. Its row is locked so two refunds of one return
    settling at once see each other."""
    return_request = Return.objects.select_for_update().get(pk=return_id)
    states = set(Refund.objects.filter(return_request_id=return_id).values_list("state", flat=True))
    if states <= {S.SUCCEEDED}:
        new = Return.RefundState.REFUNDED
    elif S.FAILED in states:
        new = Return.RefundState.NEEDS_ATTENTION
    else:
        new = Return.RefundState.REFUNDING
    if new == return_request.refund_state:
        return
    now = clock.now()
    Return.objects.filter(pk=return_id).update(
        refund_state=new, refunded_at=now if new == Return.RefundState.REFUNDED else None
    )
    order_states.record_event(
        order_id=return_request.order_id,
        event=f"return_{new}",
        data={"return_id": return_id, "number": return_request.number},
    )


# --- Staff -----------------------------------------------------------------------------------


def retry_refund(*, refund_id: int, staff: str) -> bool:
    """Send a failed (or stuck pending) external refund again, under the same
    ``out_refund_no`` (so it can never be paid twice). False if there is nothing to retry."""
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update()
            .filter(pk=refund_id, tender__in=EXTERNAL_TENDERS, state__in=(S.FAILED, S.PENDING))
            .first()
        )
        if refund is None:
            return False
        Refund.objects.filter(pk=refund.pk).update(state=S.PENDING, failure_code="", last_attempt_at=None)
        order_states.record_event(
            order_id=refund.order_id,
            event="refund_retried",
            data={"out_refund_no": refund.out_refund_no, "by": staff, "was": refund.state},
        )
        _settle_return(refund.return_request_id)
        refund.state = S.PENDING
        send_after_commit([refund])
    return True
