"""The one interface every payment provider implements, in plain values.

Amounts are integer fen here; a provider converts at its own boundary (Alipay's yuan
strings) and nowhere else. Nothing here trusts an amount the client sent: the checkout
service passes the order total, and notifications are checked against the order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from miniprogram_api.core.errors import InvalidInput, UpstreamError, UpstreamUnavailable

TradeState = Literal["pending", "paid", "closed", "failed"]
RefundState = Literal["processing", "succeeded", "failed"]


class PaymentProviderUnavailable(UpstreamUnavailable):
    """The provider did not answer (timeouts, refused connections, 5xx): retry later."""

    code = "payment_provider_unavailable"
    default_message = "The payment provider is unavailable right now; try again shortly."


class PaymentProviderError(UpstreamError):
    """The provider answered with an error or a response we could not verify."""

    code = "payment_provider_error"
    default_message = "The payment provider refused the request."


class InvalidNotification(InvalidInput):
    """A notification whose signature, decryption or content does not check out."""

    code = "invalid_notification"
    default_message = "The payment notification could not be verified."


@dataclass(frozen=True)
class CreatedPayment:
    """What the mini-program needs to start paying (``client_params``) and the provider's
    own id for the trade when it gives one at creation (WeChat's prepay_id, Alipay's trade_no)."""

    client_params: dict[str, Any]
    provider_reference: str = ""


@dataclass(frozen=True)
class TradeStatus:
    """A trade as the provider sees it, from a query or a verified notification."""

    out_trade_no: str
    state: TradeState
    amount_fen: int | None = None
    provider_trade_id: str = ""
    paid_at: dt.datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundStatus:
    """A refund as the provider sees it: from the refund call's answer, a refund query or a
    verified refund notification. ``failed`` is final (WeChat's CLOSED/ABNORMAL, Alipay's
    refusal): the money did not go back and staff must act."""

    out_trade_no: str
    out_refund_no: str
    state: RefundState
    amount_fen: int | None = None
    provider_refund_id: str = ""
    succeeded_at: dt.datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    def create(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        payer_openid: str,
        notify_url: str,
        expires_at: dt.datetime,
    ) -> CreatedPayment: ...

    def query(self, *, out_trade_no: str) -> TradeStatus: ...

    def close(self, *, out_trade_no: str) -> None: ...

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> TradeStatus | RefundStatus:
        """Verify (and decrypt) a notification, of a payment or of a refund; raise
        ``InvalidNotification`` if it does not check out."""
        ...

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str,
    ) -> RefundStatus:
        """Ask for ``refund_fen`` of the paid trade ``out_trade_no`` (of ``total_fen``) back.
        Idempotent by ``out_refund_no``: asking again returns the same refund. The answer's
        ``amount_fen`` is this refund's (never a provider's cumulative figure). A refusal
        (more than remains, an unpaid trade...) is ``PaymentProviderError`` with the
        provider's ``provider_code``; no answer is ``PaymentProviderUnavailable``."""
        ...

    def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundStatus:
        """The refund as the provider sees it now. A refund the provider does not know is
        WeChat Pay's ``PaymentProviderError`` RESOURCE_NOT_EXISTS but Alipay's ``processing``
        (its query cannot tell "not received" from "not done"): for both, sending the
        refund again with the same ``out_refund_no`` is safe."""
        ...
