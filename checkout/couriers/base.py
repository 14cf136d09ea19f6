"""The one interface every courier provider implements, in plain values.

A provider is the partner that sends a rider from a fulfilment location to the shopper
(or to a pick-up station). We ask it for a delivery when a shipment is dispatched and it
answers with its waybill number (``tracking_no``); what happens next (picked up,
delivered, failed) it reports through the signed webhook, ``POST /api/couriers/v1/events``.

``create_delivery`` must be idempotent by ``reference``: the dispatcher calls it inside
its transaction, and a transaction that rolls back after the call (or a worker that dies)
asks again with the same reference, which must give the same waybill, not a second rider.
Real couriers' APIs take the merchant's order id for exactly this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from miniprogram_api.core.errors import UpstreamError, UpstreamUnavailable


class CourierProviderUnavailable(UpstreamUnavailable):
    """The provider did not answer (timeouts, refused connections, 5xx): retry later."""

    code = "courier_provider_unavailable"
    default_message = "The courier provider is unavailable right now."


class CourierProviderError(UpstreamError):
    """The provider refused the request (an address it cannot serve, a bad courier id)."""

    code = "courier_provider_error"
    default_message = "The courier provider refused the request."


@dataclass(frozen=True)
class Stop:
    """Where the rider collects or hands over: a location, an address or a pick-up station."""

    name: str
    phone: str
    address: str
    latitude: str  # decimal strings, as stored: no float rounding on the way
    longitude: str


@dataclass(frozen=True)
class DeliveryItem:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class DeliveryRequest:
    """One shipment to carry. ``reference`` is ours and unique per attempt
    (``"<shipment id>-<attempt>"``), so a retried request names the same delivery."""

    reference: str
    order_number: str
    courier_ref: str  # the rider (or fleet) at the provider, from ``Courier.provider_ref``
    origin: Stop
    destination: Stop
    window_start: dt.datetime
    window_end: dt.datetime
    items: tuple[DeliveryItem, ...]


class CourierProvider(Protocol):
    name: str

    def create_delivery(self, request: DeliveryRequest) -> str:
        """Book the delivery and return the provider's waybill number; the same one for a
        repeated ``reference``."""
        ...

    def cancel(self, *, tracking_no: str, reason: str) -> None:
        """Call the rider off (a shipment cancelled after dispatch); cancelling twice is fine."""
        ...
