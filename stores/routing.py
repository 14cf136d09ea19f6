"""Routing a delivery order to the fulfilment locations that send it.

The rule, in order of priority:

1. Among the city's active locations (stores and warehouses), those that can send every
   line from available stock (on hand minus reserved) compete on great-circle distance
   to the address; the nearest wins, ties broken by location code.
2. When no single location can send it all, the order is split into the fewest
   shipments. The smallest set of locations covering every line is found by trying all
   combinations of 2, then 3, ... locations; among equally small sets the one with the
   smallest total distance wins (then the nearest-first list of distances, then codes).
   Each product goes to the nearest location of that set able to send its whole line.
   Set sizes that cannot cover every line (fewer lines than the biggest senders hold)
   are skipped. When the number of combinations would make this too slow, the locations
   are taken greedily: nearest first, each one adding a product still missing, unless
   taking the one adding the most missing products first needs fewer locations.
3. A line is kept in one shipment whenever one location has enough for it. Only when no
   single location has enough of a product are its units split: first over the locations
   already sending something, nearest first, then over the others holding the most first
   (which, for one product, reaches its quantity with the fewest extra boxes), so the
   shopper still gets the goods.
   Units the whole city lacks are ``unserved``; the caller decides whether to refuse.

``plan`` is pure (plain values in, plain values out) so the rule is tested and timed
without a database; ``load_candidates`` fetches what it needs in two queries whatever the
number of lines or locations; ``route`` is the two together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from types import MappingProxyType

from django.db.models import F

from .geo import GeoPoint, haversine_m
from .models import Location, Stock

# The exact search gives up (and a greedy rule answers) once it would have to look at more
# combinations than this in total: some 20 ms of pure Python, enough to try every set of
# up to 3 out of 84 locations, or of up to 2 out of 446.
MAX_EXACT_COMBINATIONS = 100_000

# How the locations for whole lines were chosen (the explanation's "method").
METHOD_NOTHING_WANTED = "nothing_wanted"
METHOD_NO_LOCATION = "no_location"  # the city has no active location at all
METHOD_SINGLE = "single_location"  # one location sends every line
METHOD_EXACT = "exact_search"  # the smallest set, by trying every combination
METHOD_GREEDY = "greedy_nearest_first"  # too many combinations: nearest first instead
METHOD_GREEDY_MOST_LINES = "greedy_most_lines_first"  # ... or most lines first, if fewer
METHOD_NO_WHOLE_LINE = "no_whole_line"  # no location has enough of any line: units split


@dataclass(frozen=True)
class Candidate:
    """An active location of the city and what it can supply now."""

    location_id: int
    code: str
    kind: str  # Location.Kind: "store" or "warehouse"
    point: GeoPoint
    available: Mapping[int, int]  # product_id -> on_hand - reserved (> 0 only)


@dataclass(frozen=True)
class PlannedShipment:
    location_id: int
    distance_m: int
    lines: Mapping[int, int]  # product_id -> units this location sends


@dataclass(frozen=True)
class RoutingPlan:
    shipments: tuple[PlannedShipment, ...]  # nearest first
    unserved: Mapping[int, int]  # product_id -> units nobody in the city can supply
    explanation: dict  # JSON-able, for the admin

    @property
    def fully_served(self) -> bool:
        return not self.unserved


@dataclass(frozen=True)
class _Ranked:
    """A candidate with its distance to the destination; sorts nearest first."""

    distance_m: int
    code: str
    candidate: Candidate

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.distance_m, self.code, self.candidate.location_id)


# --- The pure rule ------------------------------------------------------------------------


def plan(*, destination: GeoPoint, wanted: Mapping[int, int], candidates: Sequence[Candidate]) -> RoutingPlan:
    """Decide which locations send which units of ``wanted`` (product_id -> quantity).

    Pure and deterministic: the result does not depend on the order of ``candidates``.
    """
    wanted = _checked_wanted(wanted)
    ranked = _ranked(destination, candidates)
    # Lines some single location can send whole, and the others.
    whole = [p for p in sorted(wanted) if any(r.candidate.available.get(p, 0) >= wanted[p] for r in ranked)]
    short = [p for p in sorted(wanted) if p not in set(whole)]
    reasons: dict[int, str] = {}
    notes: list[str] = []

    method, chosen = _choose_locations(ranked, wanted, whole, reasons, notes)
    allocation: dict[int, dict[int, int]] = {r.candidate.location_id: {} for r in chosen}
    for p in whole:
        nearest = min((r for r in chosen if r.candidate.available.get(p, 0) >= wanted[p]), key=lambda r: r.key)
        allocation[nearest.candidate.location_id][p] = wanted[p]
    unserved = _split_short_lines(ranked, wanted, short, allocation, notes)

    shipments = tuple(
        PlannedShipment(
            location_id=r.candidate.location_id,
            distance_m=r.distance_m,
            lines=MappingProxyType(dict(sorted(allocation[r.candidate.location_id].items()))),
        )
        for r in ranked
        if allocation.get(r.candidate.location_id)
    )
    explanation = _explanation(
        destination=destination,
        wanted=wanted,
        ranked=ranked,
        shipments=shipments,
        unserved=unserved,
        method=method,
        reasons=reasons,
        notes=notes,
    )
    return RoutingPlan(shipments=shipments, unserved=MappingProxyType(unserved), explanation=explanation)


def _choose_locations(
    ranked: list[_Ranked], wanted: Mapping[int, int], whole: list[int], reasons: dict[int, str], notes: list[str]
) -> tuple[str, list[_Ranked]]:
    """(method, the locations sending the ``whole`` lines), filling in ``reasons`` for
    locations set aside and ``notes`` on how the choice was made."""
    if not wanted:
        return METHOD_NOTHING_WANTED, []
    if not ranked:
        notes.append("the city has no active location")
        return METHOD_NO_LOCATION, []
    if len(whole) == len(wanted):
        complete = [r for r in ranked if all(r.candidate.available.get(p, 0) >= q for p, q in wanted.items())]
        if complete:
            nearest = complete[0]
            for r in complete[1:]:
                reasons[r.candidate.location_id] = (
                    f"can send every line but is farther than {nearest.code}"
                    if r.distance_m > nearest.distance_m
                    else f"can send every line, as near as {nearest.code}, which comes first by code"
                )
            return METHOD_SINGLE, complete[:1]
    method, chosen, note = _choose_split(ranked, whole, wanted, reasons)
    if note:
        notes.append(note)
    return method, chosen


def _split_short_lines(
    ranked: list[_Ranked],
    wanted: Mapping[int, int],
    short: list[int],
    allocation: dict[int, dict[int, int]],
    notes: list[str],
) -> dict[int, int]:
    """Spread the units of lines no single location can send whole, adding to
    ``allocation``; returns the units the whole city lacks (the unserved)."""
    unserved: dict[int, int] = {}
    split = []
    for p in short:

        def split_order(r: _Ranked, p: int = p) -> tuple:
            # Locations already sending something first, nearest first; then the ones
            # holding the most, which reaches the quantity with the fewest extra boxes.
            if allocation.get(r.candidate.location_id):
                return (0, 0, r.key)
            return (1, -r.candidate.available.get(p, 0), r.key)

        remaining = wanted[p]
        for r in sorted(ranked, key=split_order):
            units = min(r.candidate.available.get(p, 0), remaining)
            if units > 0:
                allocation.setdefault(r.candidate.location_id, {})[p] = units
                remaining -= units
        if remaining:
            unserved[p] = remaining
        if remaining < wanted[p]:
            split.append(p)
    if split:
        notes.append(f"no single location has enough of products {split}: their units are split")
    if unserved:
        notes.append(f"the city lacks units of products {sorted(unserved)}")
    return unserved


def _checked_wanted(wanted: Mapping[int, int]) -> dict[int, int]:
    checked = {}
    for product_id, quantity in wanted.items():
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValueError(f"wanted quantity of product {product_id} must be a positive int, got {quantity!r}")
        checked[int(product_id)] = quantity
    return checked


def _ranked(destination: GeoPoint, candidates: Sequence[Candidate]) -> list[_Ranked]:
    seen: set[int] = set()
    ranked = []
    for c in candidates:
        if c.location_id in seen:
            raise ValueError(f"location {c.location_id} is a candidate twice")
        seen.add(c.location_id)
        ranked.append(_Ranked(distance_m=round(haversine_m(destination, c.point)), code=c.code, candidate=c))
    ranked.sort(key=lambda r: r.key)
    return ranked


def _choose_split(
    ranked: list[_Ranked], coverable: list[int], wanted: Mapping[int, int], reasons: dict[int, str]
) -> tuple[str, list[_Ranked], str]:
    """The fewest locations that together can send every coverable line whole.

    Returns (method, chosen nearest first, a note on how the search went). Fills
    ``reasons`` for the locations it set aside before searching.
    """
    if not coverable:
        return METHOD_NO_WHOLE_LINE, [], ""
    bit = {p: 1 << i for i, p in enumerate(coverable)}
    full = (1 << len(coverable)) - 1
    masks = {
        r.candidate.location_id: sum(bit[p] for p in coverable if r.candidate.available.get(p, 0) >= wanted[p])
        for r in ranked
    }

    # A location that sends nothing another nearer (or equally near) location cannot send
    # is never needed: swapping it for that one keeps any set as small and no farther.
    useful: list[_Ranked] = []
    for r in ranked:
        mask = masks[r.candidate.location_id]
        if mask == 0:
            continue
        better = next((u for u in useful if mask & ~masks[u.candidate.location_id] == 0), None)
        if better is not None:
            reasons[r.candidate.location_id] = f"can send nothing whole that {better.code} cannot, and is no nearer"
            continue
        useful.append(r)

    nearest_first, most_lines = _greedy(useful, masks, full)
    if len(most_lines) < len(nearest_first):
        greedy_method, greedy = METHOD_GREEDY_MOST_LINES, most_lines
    else:
        greedy_method, greedy = METHOD_GREEDY, nearest_first
    budget = MAX_EXACT_COMBINATIONS
    useful_masks = [masks[u.candidate.location_id] for u in useful]
    # No set of ``size`` locations can cover more lines than the ``size`` biggest senders.
    most_first = sorted((mask.bit_count() for mask in useful_masks), reverse=True)
    # Size 1 is only reached when some lines no location has enough of (split below).
    for size in range(1, len(greedy) + 1):
        if sum(most_first[:size]) < len(coverable):
            continue
        count = math.comb(len(useful), size)
        if count > budget:
            # Every smaller set was ruled out, so a greedy cover of this size is the fewest.
            fewest = "; no fewer locations can send every line" if len(greedy) == size else ""
            return (
                greedy_method,
                greedy,
                f"exact search stopped at {size} locations ({count} combinations of {len(useful)}); "
                f"instead took {len(greedy)} locations {_GREEDY_RULES[greedy_method]} "
                f"(nearest first: {len(nearest_first)}, most missing lines first: {len(most_lines)}){fewest}",
            )
        budget -= count
        best = _best_cover(useful, useful_masks, size, full)
        if best is not None:
            return METHOD_EXACT, best, f"exact search over {len(useful)} locations found {size} is the fewest"
    raise AssertionError("unreachable: the greedy choice is a cover of at most its own size")


_GREEDY_RULES = {
    METHOD_GREEDY: "nearest first, each adding a line still missing",
    METHOD_GREEDY_MOST_LINES: "most missing lines first, nearest among equals",
}


def _greedy(useful: list[_Ranked], masks: Mapping[int, int], full: int) -> tuple[list[_Ranked], list[_Ranked]]:
    """Two quick covers, for when the exact search would take too long: (nearest first,
    most missing lines first), each nearest first.

    Nearest first keeps shipments short but can take many locations; most missing lines
    first (the classic set-cover rule) is never more than a logarithmic factor off the
    fewest. The caller takes the one with fewer locations, nearest first among equals.
    """
    nearest_first, covered = [], 0
    for r in useful:
        mask = masks[r.candidate.location_id]
        if mask & ~covered:
            nearest_first.append(r)
            covered |= mask
            if covered == full:
                break
    most_lines, covered = [], 0
    while covered != full:
        # ``useful`` is nearest first, so max() keeps the nearest of equally useful ones.
        r = max(useful, key=lambda r: (masks[r.candidate.location_id] & ~covered).bit_count())
        most_lines.append(r)
        covered |= masks[r.candidate.location_id]
    return nearest_first, _without_redundant(sorted(most_lines, key=lambda r: r.key), masks, full)


def _without_redundant(chosen: list[_Ranked], masks: Mapping[int, int], full: int) -> list[_Ranked]:
    """Drop, farthest first, the locations whose lines the others already cover."""
    kept = list(chosen)
    for r in reversed(chosen):
        others = [k for k in kept if k is not r]
        union = 0
        for k in others:
            union |= masks[k.candidate.location_id]
        if union == full:
            kept = others
    return kept


def _best_cover(useful: list[_Ranked], useful_masks: list[int], size: int, full: int) -> list[_Ranked] | None:
    """The covering set of ``size`` locations with the smallest total distance, or None.

    ``useful`` is sorted nearest first, so each combination is too, and comparing the
    lists of (distance, code, id) breaks ties nearest first and then by code.
    """
    distances = [u.distance_m for u in useful]
    best_total, best = -1, None
    for combo in combinations(range(len(useful)), size):
        mask = 0
        for i in combo:
            mask |= useful_masks[i]
        if mask != full:
            continue
        total = sum(distances[i] for i in combo)
        if (
            best is None
            or total < best_total
            or (total == best_total and [useful[i].key for i in combo] < [useful[i].key for i in best])
        ):
            best_total, best = total, combo
    return None if best is None else [useful[i] for i in best]


def _explanation(
    *,
    destination: GeoPoint,
    wanted: Mapping[int, int],
    ranked: list[_Ranked],
    shipments: tuple[PlannedShipment, ...],
    unserved: Mapping[int, int],
    method: str,
    reasons: Mapping[int, str],
    notes: list[str],
) -> dict:
    sending = {s.location_id: s for s in shipments}
    rows = []
    for r in ranked:
        c = r.candidate
        whole = [p for p in sorted(wanted) if c.available.get(p, 0) >= wanted[p]]
        missing = [p for p in sorted(wanted) if c.available.get(p, 0) < wanted[p]]
        if c.location_id in sending:
            decision = "chosen"
            if method == METHOD_SINGLE:
                reason = "the nearest location that can send every line"
            else:
                reason = f"sends products {list(sending[c.location_id].lines)}"
        else:
            decision = "skipped"
            if c.location_id in reasons:
                reason = reasons[c.location_id]
            elif not whole or method == METHOD_SINGLE:
                reason = f"missing products {missing}"
            else:
                reason = f"missing products {missing}; the chosen locations send the others ({whole})"
        rows.append(
            {
                "location_id": c.location_id,
                "code": c.code,
                "kind": c.kind,
                "distance_m": r.distance_m,
                "decision": decision,
                "reason": reason,
            }
        )
    return {
        "destination": {"latitude": destination.latitude, "longitude": destination.longitude},
        "method": method,
        "wanted": [{"product_id": p, "quantity": q} for p, q in sorted(wanted.items())],
        "candidates": rows,
        "shipments": [
            {
                "location_id": s.location_id,
                "distance_m": s.distance_m,
                "lines": [{"product_id": p, "quantity": q} for p, q in s.lines.items()],
            }
            for s in shipments
        ],
        "unserved": [{"product_id": p, "quantity": q} for p, q in sorted(unserved.items())],
        "notes": notes,
    }


# --- Loading and routing ------------------------------------------------------------------


def load_candidates(
    *, city_id: int, product_ids: Iterable[int], location_ids: Iterable[int] | None = None
) -> list[Candidate]:
    """The city's active locations (optionally only ``location_ids``) with their available
    stock of ``product_ids``: two queries, whatever the number of products or locations."""
    locations = Location.objects.filter(city_id=city_id, active=True)
    if location_ids is not None:
        locations = locations.filter(id__in=list(location_ids))
    rows = list(locations.order_by("code").values_list("id", "code", "kind", "latitude", "longitude"))
    available: dict[int, dict[int, int]] = {row[0]: {} for row in rows}
    product_ids = list(product_ids)
    if rows and product_ids:
        stock = Stock.objects.filter(
            location__in=locations, product_id__in=product_ids, on_hand__gt=F("reserved")
        ).values_list("location_id", "product_id", "on_hand", "reserved")
        for location_id, product_id, on_hand, reserved in stock:
            available[location_id][product_id] = on_hand - reserved
    return [
        Candidate(
            location_id=location_id,
            code=code,
            kind=kind,
            point=GeoPoint(float(latitude), float(longitude)),
            available=MappingProxyType(available[location_id]),
        )
        for location_id, code, kind, latitude, longitude in rows
    ]


def route(
    *,
    city_id: int,
    destination: GeoPoint,
    wanted: Mapping[int, int],
    location_ids: Iterable[int] | None = None,
) -> RoutingPlan:
    """Plan ``wanted`` for an address in the city from what its locations hold now.

    Reads stock without locking it: the plan is a proposal that the checkout makes true by
    reserving each line with a conditional update, and re-plans or refuses if one fails.
    """
    candidates = load_candidates(city_id=city_id, product_ids=wanted.keys(), location_ids=location_ids)
    return plan(destination=destination, wanted=wanted, candidates=candidates)
