"""Request latency by URL pattern, and ``GET /metrics`` for Prometheus.

``MetricsMiddleware`` times every request into ``http_request_duration_seconds`` labelled
by method, the matched URL pattern (``api/v1/baskets/<int:basket_id>/scan``, never the raw
path: one series per basket id would grow without end) and status class. A request no
pattern matched counts as ``<unmatched>``; a method Django does not know as ``other``.

It also answers ``GET /metrics`` itself, ahead of the host check and the HTTPS redirect:
a scraper addresses each process by its private IP over plain HTTP, which ``ALLOWED_HOSTS``
and ``SECURE_SSL_REDIRECT`` exist to refuse from shoppers. Who may read it is decided here
instead: a peer in ``METRICS_ALLOWED_IPS`` (addresses or networks; default loopback only),
or anyone sending ``Authorization: Bearer <METRICS_TOKEN>`` when that is set; everyone
else gets 403. A request that came through the reverse proxies is judged by the address
they saw too (``X-Forwarded-For``, the last ``NUM_PROXIES`` entries, at least one), so a
proxy on the same host does not make every shopper look like ``127.0.0.1``; a forged
header can only get a request refused, never let in.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse
from prometheus_client.exposition import choose_encoder

from miniprogram_api.core import metrics

PATH = "/metrics"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == PATH:
            return metrics_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.HTTP_REQUEST_DURATION.labels(
            method=request.method if request.method in KNOWN_METHODS else "other",
            route=route_of(request),
            status=f"{response.status_code // 100}xx",
        ).observe(time.perf_counter() - started)
        return response


def route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else UNMATCHED


def metrics_response(request) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if not allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(metrics.registry()), content_type=content_type, headers={"Cache-Control": "no-store"})


def allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    networks = allowed_networks(tuple(settings.METRICS_ALLOWED_IPS))
    return all(_within(address, networks) for address in _addresses(request))


def _addresses(request) -> list[str]:
    """The peer, and the addresses the trusted proxies say they saw."""
    seen = [request.META.get("REMOTE_ADDR", "")]
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        seen += hops[-max(settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0, 1) :]
    return seen


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


@lru_cache(maxsize=8)
def allowed_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
