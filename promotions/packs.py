"""Coupon packs: the new-customer pack, granted once for a shopper's first paid order.

The pack itself (its threshold and its templates) is data, created by a migration with the
retailer's default (four 满减 coupons worth 88 RMB in total) and edited by marketing in
the admin. Which order is a shopper's first is checkout's knowledge; checkout asks for the
grant with the order's id and its goods after discounts, and this module decides the rest.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from .coupons import CouponsSoldOut, issue_coupons
from .models import Coupon, CouponPack, NewCustomerPackGrant

logger = logging.getLogger(__name__)


def active_new_customer_pack() -> CouponPack | None:
    """The pack new customers get now: the newest active one, should staff have set up a
    second (say, a festival edition) without switching the default off."""
    return CouponPack.objects.filter(kind=CouponPack.Kind.NEW_CUSTOMER, active=True).order_by("-pk").first()


def grant_new_customer_pack(*, customer_id: int, order_id: int, goods_fen: int) -> bool:
    """Grant the new-customer pack for the shopper's first paid order; True if this call
    granted it.

    Nothing when no pack is active or ``goods_fen`` (the goods after discounts) is below
    the pack's threshold. Once per shopper ever: the grant row's one-to-one customer is the
    guarantee, not a check here, so two paid-order tasks racing for one shopper (or a
    redelivered task) grant one pack. The grant and every coupon of the pack are one
    transaction: all of it or nothing. A pack template run out of its cap (a cap on a pack
    template is a setup mistake) grants nothing and is logged rather than raised, since
    this runs after a payment, which must not fail for it.
    """
    pack = active_new_customer_pack()
    if pack is None or goods_fen < pack.min_goods_fen:
        return False
    items = list(pack.items.order_by("template_id").values_list("template_id", "quantity"))
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    grant = NewCustomerPackGrant.objects.create(customer_id=customer_id, pack=pack, order_id=order_id)
            except IntegrityError:
                return False
            # In template order, as every multi-template grant locks them, so no two grants deadlock.
            for template_id, quantity in items:
                issue_coupons(
                    template_id=template_id,
                    customer_id=customer_id,
                    quantity=quantity,
                    source=Coupon.Source.NEW_CUSTOMER_PACK,
                    source_id=grant.pk,
                    enforce_customer_limit=False,
                )
    except CouponsSoldOut:
        logger.error("new-customer pack %s: a template ran out of its cap (shopper %s)", pack.pk, customer_id)
        return False
    return True
