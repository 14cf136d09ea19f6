"""Telling shoppers about their orders: WeChat subscribe messages, once per order and kind.

``notify(order_id, kind)`` is what fulfilment calls when something happened (the order
is paid, dispatched, delivered, ready at the pick-up station, or a delivery failed). It
writes the ``Notification`` row, with the message's text built from the order as it is
now, in the caller's transaction: the unique (order, kind) row makes it once-only, and
a rolled-back change sends nothing. The send is enqueued when that transaction commits.

``deliver`` (the ``send_notification`` task) sends a pending row only after claiming it
with a conditional UPDATE on ``attempted_at``, so a redelivered or duplicated task finds
it claimed or done and sends nothing. A claim older than ``LEASE`` (the worker died
mid-send) may be taken again: a message is sent at least once, and twice only if a worker
died between WeChat's answer and our write. WeChat busy or unreachable: the task retries
with backoff, ``MAX_ATTEMPTS`` in all, then the row is ``failed``. A shopper who has not
subscribed to the template (WeChat's 43101) is ``refused``: recorded, not retried.

``redrive`` (periodic) re-enqueues pending rows whose task was lost (the broker was down
at commit, the worker died). The "paid" message itself is written by the after-payment
work, which ``after_payment_jobs`` sees done even when its own task was lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from miniprogram_api.accounts import wechat_api
from miniprogram_api.core import clock
from miniprogram_api.core.enqueue import delay_on_commit
from miniprogram_api.core.money import format_yuan

from .delivery_models import Notification, Shipment
from .models import Order

logger = logging.getLogger(__name__)

Kind = Literal["paid", "dispatched", "delivered", "ready_for_pickup", "delivery_failed"]
TEMPLATE_SETTING: dict[str, str] = {
    "paid": "WECHAT_TEMPLATE_ORDER_PAID",
    "dispatched": "WECHAT_TEMPLATE_ORDER_DISPATCHED",
    "delivered": "WECHAT_TEMPLATE_ORDER_DELIVERED",
    "ready_for_pickup": "WECHAT_TEMPLATE_ORDER_READY_FOR_PICKUP",
    "delivery_failed": "WECHAT_TEMPLATE_ORDER_DELIVERY_FAILED",
}
KINDS = tuple(TEMPLATE_SETTING)

MAX_ATTEMPTS = 5
LEASE = dt.timedelta(minutes=2)  # longer than one attempt can take (token and send, each with its timeouts)
REDRIVE_AFTER = dt.timedelta(minutes=3)
PAID_NOTICE_WITHIN = dt.timedelta(days=1)  # older paid orders get no belated "paid" message

# What a keyword of each type may hold (WeChat refuses longer values with 47003).
MAX_LENGTH = {"thing": 20, "character_string": 32}
# Fixed texts, in the language of the mini-program.
COURIER_FALLBACK = "配送员"  # "courier"
FAILED_REASON_FALLBACK = "配送未成功"  # "delivery was not completed"
FAILED_NEXT_STEP = "我们将尽快联系您重新配送"  # "we will contact you to deliver again"


def notify(order_id: int, kind: str) -> int | None:
    """Write the ``kind`` message about the order, to be sent once the caller's transaction
    commits; its id, or None when one was written before (or the kind has no template)."""
    if kind not in TEMPLATE_SETTING:
        raise ValueError(f"unknown notification kind {kind!r}")
    template_id = getattr(settings, TEMPLATE_SETTING[kind])
    if not template_id:
        logger.info("no %s template configured: order %s gets no %s message", TEMPLATE_SETTING[kind], order_id, kind)
        return None
    if Notification.objects.filter(order_id=order_id, kind=kind).exists():
        return None
    order = Order.objects.select_related("store").get(pk=order_id)
    data = message_data(order, kind)
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not break the caller's transaction
            notification = Notification.objects.create(order=order, kind=kind, template_id=template_id, data=data)
    except IntegrityError:
        return None  # written a moment ago by a concurrent caller
    from .tasks import send_notification

    # A broker outage must not fail the caller's committed change: redrive-notifications
    # sends a message whose task never came.
    delay_on_commit(send_notification, notification.pk, redriven_by="redrive-notifications")
    return notification.pk


def _enqueue(notification_id: int) -> None:
    from .tasks import send_notification

    send_notification.delay(notification_id)


# --- The message's text -------------------------------------------------------------------


def message_data(order: Order, kind: str) -> dict[str, str]:
    """The template's keywords and their text: our values for ``kind``, each under the
    keyword ``WECHAT_TEMPLATE_KEYWORDS`` gives it, cut to what its type allows."""
    values = _values(order, kind)
    keywords = settings.WECHAT_TEMPLATE_KEYWORDS.get(kind, {})
    return {keyword: _fit(keyword, values[field]) for field, keyword in keywords.items() if field in values}


def _values(order: Order, kind: str) -> dict[str, str]:
    values = {"number": order.number, "slot": slot_text(order)}
    if kind == "paid":
        values |= {"amount": format_yuan(order.total_fen), "place": _place(order)}
    elif kind == "dispatched":
        values["courier"] = _courier_name(order)
    elif kind == "delivered":
        values |= {"delivered_at": _moment(order.delivered_at or clock.now()), "place": _place(order)}
    elif kind == "ready_for_pickup":
        values |= {"store": order.store.name if order.store else "", "pickup_code": order.pickup_code or "-"}
    elif kind == "delivery_failed":
        values |= {"reason": _failure_reason(order), "next_step": FAILED_NEXT_STEP}
    return values


def slot_text(order: Order) -> str:
    """The delivery or collection window as WeChat's "time" type writes it:
    "2026年11月23日 09:00~12:00"; express is the hour after payment."""
    if order.slot == "express":
        start = timezone.localtime(order.paid_at or clock.now())
        return f"{_moment(start)}~{_clock(start + dt.timedelta(hours=1))}"
    if order.slot_date is None or "-" not in order.slot:
        return "-"
    start, end = order.slot.split("-", 1)
    return f"{_date(order.slot_date)} {start}~{end}"


def _date(day: dt.date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def _clock(moment: dt.datetime) -> str:
    return f"{moment:%H:%M}"


def _moment(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    return f"{_date(local.date())} {_clock(local)}"


def _place(order: Order) -> str:
    if order.channel == Order.Channel.PICKUP and order.store is not None:
        return order.store.name
    return str((order.delivery_address or {}).get("text") or "-")


def _courier_name(order: Order) -> str:
    shipment = (
        Shipment.objects.filter(order_id=order.pk, courier__isnull=False)
        .select_related("courier")
        .order_by("pk")
        .first()
    )
    return shipment.courier.name if shipment else COURIER_FALLBACK


def _failure_reason(order: Order) -> str:
    reason = (
        Shipment.objects.filter(order_id=order.pk, status=Shipment.Status.FAILED)
        .exclude(failure_reason="")
        .order_by("-pk")
        .values_list("failure_reason", flat=True)
        .first()
    )
    return reason or FAILED_REASON_FALLBACK


def _fit(keyword: str, text: str) -> str:
    limit = MAX_LENGTH.get(keyword.rstrip("0123456789"))
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…" if keyword.startswith("thing") else text[:limit]


# --- Sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What one ``deliver`` call did: ``skipped`` (not pending, or another worker holds
    it), ``sent``, ``refused``, ``failed``, or ``retry`` after ``retry_in`` seconds."""

    outcome: str
    retry_in: int = 0


def retry_delay(attempts: int) -> int:
    """Seconds before attempt ``attempts + 1``: 30, 60, 120, 240, ... at most 10 minutes."""
    return min(30 * 2 ** max(attempts - 1, 0), 600)


def deliver(*, notification_id: int) -> Attempt:
    """Send a pending notification, if this call can claim it."""
    now = clock.now()
    claimed = (
        Notification.objects.filter(pk=notification_id, status=Notification.Status.PENDING, attempts__lt=MAX_ATTEMPTS)
        .filter(Q(attempted_at__isnull=True) | Q(attempted_at__lt=now - LEASE))
        .update(attempted_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return Attempt("skipped")
    notification = Notification.objects.select_related("order__customer").get(pk=notification_id)
    customer = notification.order.customer
    if not customer.openid or customer.wechat_appid != settings.WECHAT_APPID:
        _finish(notification_id, Notification.Status.FAILED, error="The shopper has no openid in this mini-program.")
        return Attempt("failed")
    result = wechat_api.send_subscribe_message(
        openid=customer.openid,
        template_id=notification.template_id,
        data=notification.data,
        page=f"{settings.WECHAT_ORDER_PAGE}?id={notification.order_id}",
    )
    error = f"errcode {result.errcode}: {result.errmsg}"[:200] if result.errcode or result.errmsg else ""
    if result.outcome == "sent":
        _finish(notification_id, Notification.Status.SENT, error="", sent_at=clock.now())
        return Attempt("sent")
    if result.outcome == "refused":
        _finish(notification_id, Notification.Status.REFUSED, error=error)
        return Attempt("refused")
    if result.outcome == "retry" and notification.attempts < MAX_ATTEMPTS:
        # Let the retry (or the sweep) claim it again.
        Notification.objects.filter(pk=notification_id, status=Notification.Status.PENDING).update(
            attempted_at=None, error=error
        )
        return Attempt("retry", retry_in=retry_delay(notification.attempts))
    if result.outcome == "retry":
        error = f"gave up after {notification.attempts} attempts; {error}"[:200]
    logger.warning("notification %s (%s) failed: %s", notification_id, notification.kind, error)
    _finish(notification_id, Notification.Status.FAILED, error=error)
    return Attempt("failed")


def _finish(notification_id: int, status: str, **fields) -> None:
    Notification.objects.filter(pk=notification_id, status=Notification.Status.PENDING).update(status=status, **fields)


def redrive(*, batch_size: int = 100) -> int:
    """Periodic: enqueue the pending notifications nobody is sending (their task was lost),
    and give up on those that used every attempt. Returns how many sends it enqueued."""
    now = clock.now()
    idle = Q(attempted_at__isnull=True) | Q(attempted_at__lt=now - LEASE)
    pending = Notification.objects.filter(status=Notification.Status.PENDING)
    pending.filter(idle, attempts__gte=MAX_ATTEMPTS).update(
        status=Notification.Status.FAILED, error=f"gave up after {MAX_ATTEMPTS} attempts"
    )
    due = list(
        pending.filter(idle, attempts__lt=MAX_ATTEMPTS, created_at__lt=now - REDRIVE_AFTER)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    for notification_id in due:
        _enqueue(notification_id)
    return len(due)
