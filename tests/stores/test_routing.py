"""Routing an order to the fulfilment locations that send it: the pure rule, loading the
candidates from the database, and properties over generated cities."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stores import routing
from stores.geo import GeoPoint, haversine_m
from stores.models import Location
from stores.routing import Candidate, load_candidates, plan, route
from tests.factories import CityFactory, LocationFactory, ProductFactory, StockFactory

HOME = GeoPoint(31.2304, 121.4737)
KM_PER_DEGREE_LATITUDE = 111.195


def north_of_home(km: float) -> GeoPoint:
    return GeoPoint(HOME.latitude + km / KM_PER_DEGREE_LATITUDE, HOME.longitude)


def candidate(location_id: int, code: str, km: float, available: dict[int, int], kind: str = "store") -> Candidate:
    return Candidate(location_id=location_id, code=code, kind=kind, point=north_of_home(km), available=available)


def sent(result: routing.RoutingPlan) -> list[tuple[int, dict[int, int]]]:
    return [(s.location_id, dict(s.lines)) for s in result.shipments]


def reasons(result: routing.RoutingPlan) -> dict[str, str]:
    return {row["code"]: row["reason"] for row in result.explanation["candidates"]}


# --- One location when one can send it all ------------------------------------------------


@pytest.mark.parametrize(
    ("store_km", "warehouse_km", "expected_id", "farther_code", "nearer_code"),
    [(2.0, 9.0, 1, "WH1", "ST1"), (9.0, 2.0, 2, "ST1", "WH1")],
    ids=["store-closer", "warehouse-closer"],
)
def test_prefers_the_closer_of_a_warehouse_and_a_store(store_km, warehouse_km, expected_id, farther_code, nearer_code):
    stock = {10: 5, 11: 5}
    result = plan(
        destination=HOME,
        wanted={10: 2, 11: 1},
        candidates=[
            candidate(1, "ST1", store_km, stock, kind="store"),
            candidate(2, "WH1", warehouse_km, stock, kind="warehouse"),
        ],
    )

    assert sent(result) == [(expected_id, {10: 2, 11: 1})]
    assert result.shipments[0].distance_m == pytest.approx(2000, abs=2)
    assert result.unserved == {}
    assert result.explanation["method"] == routing.METHOD_SINGLE
    assert reasons(result)[farther_code] == f"can send every line but is farther than {nearer_code}"
    assert [row["decision"] for row in result.explanation["candidates"]] == ["chosen", "skipped"]


def test_skips_a_nearer_location_that_lacks_a_product_or_enough_units():
    result = plan(
        destination=HOME,
        wanted={10: 3, 11: 1},
        candidates=[
            candidate(1, "NEAR", 0.5, {10: 9}),  # does not carry 11
            candidate(2, "SHORT", 1.0, {10: 2, 11: 4}),  # 2 of the 3 units of 10
            candidate(3, "FAR", 6.0, {10: 3, 11: 1}, kind="warehouse"),
        ],
    )

    assert sent(result) == [(3, {10: 3, 11: 1})]
    assert reasons(result) == {
        "NEAR": "missing products [11]",
        "SHORT": "missing products [10]",
        "FAR": "the nearest location that can send every line",
    }


def test_equally_near_locations_are_decided_by_code():
    stock = {10: 1}
    candidates = [candidate(7, "B", 3.0, stock), candidate(8, "A", 3.0, stock)]

    result = plan(destination=HOME, wanted={10: 1}, candidates=candidates)

    assert sent(result) == [(8, {10: 1})]
    assert reasons(result)["B"] == "can send every line, as near as A, which comes first by code"


# --- Splitting ----------------------------------------------------------------------------

# Nearest first, A, B and C each add one product still missing (three shipments), while D
# and C together send everything (two).
GREEDY_TRAP = [
    candidate(1, "A", 1.0, {1: 5}),
    candidate(2, "B", 2.0, {2: 5}),
    candidate(3, "C", 3.0, {3: 5}),
    candidate(4, "D", 4.0, {1: 5, 2: 5}, kind="warehouse"),
]


def test_splits_into_the_fewest_shipments_where_nearest_first_would_need_three():
    result = plan(destination=HOME, wanted={1: 1, 2: 2, 3: 3}, candidates=GREEDY_TRAP)

    assert sent(result) == [(3, {3: 3}), (4, {1: 1, 2: 2})]
    assert result.unserved == {}
    assert result.explanation["method"] == routing.METHOD_EXACT
    assert reasons(result)["A"] == "missing products [2, 3]; the chosen locations send the others ([1])"
    assert reasons(result)["D"] == "sends products [1, 2]"


def test_falls_back_to_a_greedy_rule_when_the_search_would_be_too_long(monkeypatch):
    monkeypatch.setattr(routing, "MAX_EXACT_COMBINATIONS", 3)

    result = plan(destination=HOME, wanted={1: 1, 2: 2, 3: 3}, candidates=GREEDY_TRAP)

    # Taking the location with the most missing lines first (D) avoids the trap.
    assert sent(result) == [(3, {3: 3}), (4, {1: 1, 2: 2})]
    assert result.explanation["method"] == routing.METHOD_GREEDY_MOST_LINES
    assert result.explanation["notes"] == [
        "exact search stopped at 2 locations (6 combinations of 4); instead took 2 locations most missing lines "
        "first, nearest among equals (nearest first: 3, most missing lines first: 2); "
        "no fewer locations can send every line"
    ]


def test_the_greedy_fallback_takes_nearest_first_among_equally_few(monkeypatch):
    monkeypatch.setattr(routing, "MAX_EXACT_COMBINATIONS", 0)

    result = plan(
        destination=HOME,
        wanted={1: 1, 2: 1, 3: 1, 4: 1},
        candidates=[
            candidate(1, "A", 1.0, {1: 1, 2: 1}),
            candidate(2, "B", 2.0, {3: 1, 4: 1}),
            candidate(3, "D", 3.0, {1: 1, 2: 1, 3: 1}),
        ],
    )

    # Most missing lines first would take D and B: as few, but farther.
    assert sent(result) == [(1, {1: 1, 2: 1}), (2, {3: 1, 4: 1})]
    assert result.explanation["method"] == routing.METHOD_GREEDY
    assert "(nearest first: 2, most missing lines first: 2)" in result.explanation["notes"][0]


def test_a_big_city_is_routed_greedily_rather_than_searched():
    # 60 locations holding two of 40 products each: at least 20 locations are needed, and
    # there are C(60, 20) sets of 20 to try.
    candidates = [candidate(i, f"L{i:02d}", 1.0 + i / 10, {i % 40: 1, (7 * i + 3) % 40: 1}) for i in range(60)]

    result = plan(destination=HOME, wanted={p: 1 for p in range(40)}, candidates=candidates)

    assert result.explanation["method"] == routing.METHOD_GREEDY_MOST_LINES
    assert 20 <= len(result.shipments) < 40
    assert sorted(p for s in result.shipments for p in s.lines) == list(range(40))
    assert result.unserved == {}


def test_sizes_too_small_to_cover_every_line_are_not_searched():
    # 40 locations holding one product each: the 40 of them are the only cover, found
    # without trying the sets of 1 to 39 (which alone would exceed the search budget).
    candidates = [candidate(i, f"L{i:02d}", 1.0 + i / 10, {i: 1}) for i in range(40)]

    result = plan(destination=HOME, wanted={p: 1 for p in range(40)}, candidates=candidates)

    assert result.explanation["method"] == routing.METHOD_EXACT
    assert len(result.shipments) == 40


def test_among_equally_few_the_smallest_total_distance_wins():
    # {A, X} and {B, C} both send everything; A is the nearest of all, but A + X is 21 km
    # against 11 km for B + C.
    result = plan(
        destination=HOME,
        wanted={1: 1, 2: 1, 3: 1, 4: 1},
        candidates=[
            candidate(1, "A", 1.0, {1: 1, 2: 1}),
            candidate(2, "B", 5.0, {1: 1, 3: 1}),
            candidate(3, "C", 6.0, {2: 1, 4: 1}),
            candidate(4, "X", 20.0, {3: 1, 4: 1}, kind="warehouse"),
        ],
    )

    assert sent(result) == [(2, {1: 1, 3: 1}), (3, {2: 1, 4: 1})]


def test_each_product_goes_to_the_nearest_chosen_location_that_has_it():
    result = plan(
        destination=HOME,
        wanted={1: 1, 2: 1, 3: 1},
        candidates=[candidate(1, "A", 1.0, {1: 1, 2: 1}), candidate(2, "B", 2.0, {2: 1, 3: 1})],
    )

    assert sent(result) == [(1, {1: 1, 2: 1}), (2, {3: 1})]


def test_a_location_holding_only_what_a_nearer_one_holds_is_set_aside():
    result = plan(
        destination=HOME,
        wanted={1: 1, 2: 1},
        candidates=[
            candidate(1, "A", 1.0, {1: 3}),
            candidate(2, "B", 2.0, {1: 1}),
            candidate(3, "C", 3.0, {2: 1}),
        ],
    )

    assert sent(result) == [(1, {1: 1}), (3, {2: 1})]
    assert reasons(result)["B"] == "can send nothing whole that A cannot, and is no nearer"


# --- Short products and unserved units ----------------------------------------------------


def test_units_of_a_product_no_single_location_has_enough_of_are_split():
    result = plan(
        destination=HOME,
        wanted={1: 5, 2: 5},
        candidates=[
            candidate(1, "TINY", 0.5, {2: 1}),
            candidate(2, "A", 1.0, {1: 5, 2: 2}),
            candidate(3, "B", 2.0, {2: 3}),
        ],
    )

    # A already sends product 1, so it gives its 2 units of product 2 first; then B, which
    # holds more than the nearer TINY, completes the line in one extra shipment.
    assert sent(result) == [(2, {1: 5, 2: 2}), (3, {2: 3})]
    assert result.unserved == {}
    assert reasons(result)["TINY"].startswith("missing products [1, 2]")


def test_units_the_whole_city_lacks_are_unserved_and_the_rest_still_routed():
    result = plan(
        destination=HOME,
        wanted={1: 2, 2: 10, 3: 1},
        candidates=[candidate(1, "A", 1.0, {1: 2, 2: 4}), candidate(2, "B", 2.0, {2: 3})],
    )

    assert sent(result) == [(1, {1: 2, 2: 4}), (2, {2: 3})]
    assert result.unserved == {2: 3, 3: 1}
    assert result.explanation["unserved"] == [{"product_id": 2, "quantity": 3}, {"product_id": 3, "quantity": 1}]
    assert not result.fully_served


def test_a_city_without_locations_serves_nothing():
    result = plan(destination=HOME, wanted={1: 2}, candidates=[])

    assert result.shipments == ()
    assert result.unserved == {1: 2}
    assert result.explanation["method"] == routing.METHOD_NO_LOCATION


def test_an_empty_order_routes_nowhere():
    result = plan(destination=HOME, wanted={}, candidates=GREEDY_TRAP)

    assert result.shipments == () and result.unserved == {}
    assert result.explanation["method"] == routing.METHOD_NOTHING_WANTED


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True])
def test_a_quantity_that_is_not_a_positive_int_is_a_programming_error(quantity):
    with pytest.raises(ValueError, match="positive int"):
        plan(destination=HOME, wanted={1: quantity}, candidates=GREEDY_TRAP)


def test_the_same_location_twice_is_a_programming_error():
    with pytest.raises(ValueError, match="twice"):
        plan(destination=HOME, wanted={1: 1}, candidates=[GREEDY_TRAP[0], GREEDY_TRAP[0]])


# --- The explanation ----------------------------------------------------------------------


def test_the_explanation_is_json_and_lists_every_candidate_nearest_first():
    result = plan(destination=HOME, wanted={1: 1, 2: 2, 3: 3}, candidates=list(reversed(GREEDY_TRAP)))

    explanation = json.loads(json.dumps(result.explanation))
    assert explanation == result.explanation
    assert explanation["destination"] == {"latitude": HOME.latitude, "longitude": HOME.longitude}
    assert [row["code"] for row in explanation["candidates"]] == ["A", "B", "C", "D"]
    assert [row["distance_m"] for row in explanation["candidates"]] == pytest.approx([1000, 2000, 3000, 4000], abs=2)
    assert [row["decision"] for row in explanation["candidates"]] == ["skipped", "skipped", "chosen", "chosen"]
    assert explanation["shipments"][1]["lines"] == [{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 2}]


def test_the_plan_does_not_depend_on_the_order_of_candidates():
    first = plan(destination=HOME, wanted={1: 1, 2: 2, 3: 3}, candidates=GREEDY_TRAP)
    for order in itertools.permutations(GREEDY_TRAP):
        again = plan(destination=HOME, wanted={3: 3, 2: 2, 1: 1}, candidates=list(order))
        assert (again.shipments, again.unserved, again.explanation) == (
            first.shipments,
            first.unserved,
            first.explanation,
        )


# --- Properties ---------------------------------------------------------------------------

PRODUCTS = st.integers(min_value=1, max_value=6)


@st.composite
def cities(draw):
    count = draw(st.integers(min_value=0, max_value=7))
    candidates = [
        candidate(
            location_id=100 + i,
            code=f"L{i}",
            km=draw(st.integers(min_value=0, max_value=40)) / 2,  # equal distances happen
            available=draw(st.dictionaries(PRODUCTS, st.integers(min_value=1, max_value=6), max_size=6)),
            kind=draw(st.sampled_from(["store", "warehouse"])),
        )
        for i in range(count)
    ]
    wanted = draw(st.dictionaries(PRODUCTS, st.integers(min_value=1, max_value=6), max_size=6))
    return candidates, wanted


def best_cover_by_brute_force(candidates, wanted) -> tuple[int, int]:
    """(the fewest locations sending every line whole, their smallest total distance)."""
    distance = {c.location_id: round(haversine_m(HOME, c.point)) for c in candidates}
    for size in range(len(candidates) + 1):
        totals = [
            sum(distance[c.location_id] for c in combo)
            for combo in itertools.combinations(candidates, size)
            if all(any(c.available.get(p, 0) >= q for c in combo) for p, q in wanted.items())
        ]
        if totals:
            return size, min(totals)
    raise AssertionError("not coverable")


def assert_sound(result: routing.RoutingPlan, candidates: list[Candidate], wanted: dict[int, int]) -> None:
    """Every wanted unit is sent or unserved, no location sends more than it has, and a
    line one location can send whole is never split."""
    by_id = {c.location_id: c for c in candidates}
    shipped: Counter[int] = Counter()
    for shipment in result.shipments:
        assert shipment.lines, "no empty shipment"
        for product_id, units in shipment.lines.items():
            assert 0 < units <= by_id[shipment.location_id].available.get(product_id, 0)
            shipped[product_id] += units
    for product_id, quantity in wanted.items():
        assert shipped[product_id] + result.unserved.get(product_id, 0) == quantity
    assert set(shipped) | set(result.unserved) <= set(wanted)
    assert all(units > 0 for units in result.unserved.values())
    for product_id, units in result.unserved.items():
        # Unserved only when the whole city has fewer units than wanted.
        assert sum(c.available.get(product_id, 0) for c in candidates) == wanted[product_id] - units
    distances = [s.distance_m for s in result.shipments]
    assert distances == sorted(distances)
    for product_id in whole_lines(candidates, wanted):
        assert sum(product_id in s.lines for s in result.shipments) == 1
    json.dumps(result.explanation)


def whole_lines(candidates, wanted) -> set[int]:
    return {p for p, q in wanted.items() if any(c.available.get(p, 0) >= q for c in candidates)}


@settings(max_examples=300, deadline=None)
@given(city=cities(), data=st.data())
def test_every_unit_is_sent_or_unserved_and_no_location_sends_more_than_it_has(city, data):
    candidates, wanted = city
    result = plan(destination=HOME, wanted=wanted, candidates=candidates)

    assert_sound(result, candidates, wanted)
    if whole_lines(candidates, wanted) == set(wanted):
        fewest, shortest = best_cover_by_brute_force(candidates, wanted)
        assert len(result.shipments) == fewest
        assert sum(s.distance_m for s in result.shipments) == shortest
    shuffled = data.draw(st.permutations(candidates))
    again = plan(destination=HOME, wanted=wanted, candidates=shuffled)
    assert again.shipments == result.shipments
    assert (again.unserved, again.explanation) == (result.unserved, result.explanation)


@settings(max_examples=200, deadline=None)
@given(city=cities(), data=st.data())
def test_the_greedy_fallback_is_as_sound_and_as_independent_of_order(city, data):
    candidates, wanted = city
    with mock.patch.object(routing, "MAX_EXACT_COMBINATIONS", 0):
        result = plan(destination=HOME, wanted=wanted, candidates=candidates)
        again = plan(destination=HOME, wanted=wanted, candidates=data.draw(st.permutations(candidates)))

    assert_sound(result, candidates, wanted)
    if whole_lines(candidates, wanted) == set(wanted):
        assert len(result.shipments) >= best_cover_by_brute_force(candidates, wanted)[0]
    assert again.shipments == result.shipments
    assert (again.unserved, again.explanation) == (result.unserved, result.explanation)


# --- Loading from the database ------------------------------------------------------------


@pytest.mark.django_db
def test_load_candidates_ignores_inactive_locations_and_other_cities():
    shanghai = CityFactory()
    beijing = CityFactory(code="beijing", name="Beijing", latitude="39.904200", longitude="116.407400")
    product = ProductFactory()
    open_store = LocationFactory(code="SH-OPEN", city=shanghai)
    warehouse = LocationFactory(code="SH-WH", city=shanghai, kind=Location.Kind.WAREHOUSE, latitude="31.150000")
    closed = LocationFactory(code="SH-CLOSED", city=shanghai, active=False)
    elsewhere = LocationFactory(code="BJ-1", city=beijing, latitude="39.904200", longitude="116.407400")
    for location in (open_store, warehouse, closed, elsewhere):
        StockFactory(location=location, product=product, on_hand=10)

    candidates = load_candidates(city_id=shanghai.pk, product_ids=[product.pk])

    assert [(c.code, c.kind, dict(c.available)) for c in candidates] == [
        ("SH-OPEN", "store", {product.pk: 10}),
        ("SH-WH", "warehouse", {product.pk: 10}),
    ]
    assert candidates[1].point == GeoPoint(31.15, 121.4737)
    only = load_candidates(city_id=shanghai.pk, product_ids=[product.pk], location_ids=[warehouse.pk, elsewhere.pk])
    assert [c.code for c in only] == ["SH-WH"]


@pytest.mark.django_db
def test_load_candidates_counts_reserved_units_against_available_and_loads_only_wanted_products():
    store = LocationFactory(code="SH-A")
    wanted, other, sold_out, all_reserved = ProductFactory.create_batch(4)
    StockFactory(location=store, product=wanted, on_hand=10, reserved=4)
    StockFactory(location=store, product=other, on_hand=10)
    StockFactory(location=store, product=sold_out, on_hand=0)
    StockFactory(location=store, product=all_reserved, on_hand=3, reserved=3)

    (loaded,) = load_candidates(city_id=store.city_id, product_ids=[wanted.pk, sold_out.pk, all_reserved.pk])

    assert dict(loaded.available) == {wanted.pk: 6}


@pytest.mark.django_db
def test_route_skips_a_nearer_store_whose_stock_is_reserved():
    near = LocationFactory(code="SH-NEAR", latitude="31.235000")
    far = LocationFactory(code="SH-FAR", kind=Location.Kind.WAREHOUSE, latitude="31.300000")
    milk, bread = ProductFactory.create_batch(2)
    StockFactory(location=near, product=milk, on_hand=5, reserved=4)
    StockFactory(location=near, product=bread, on_hand=5)
    StockFactory(location=far, product=milk, on_hand=5)
    StockFactory(location=far, product=bread, on_hand=5)

    result = route(city_id=near.city_id, destination=HOME, wanted={milk.pk: 2, bread.pk: 1})

    assert sent(result) == [(far.pk, {milk.pk: 2, bread.pk: 1})]
    assert reasons(result)["SH-NEAR"] == f"missing products [{milk.pk}]"
    assert result.shipments[0].distance_m == pytest.approx(7739, abs=2)  # 0.0696 degrees of latitude north


@pytest.mark.django_db
def test_route_splits_across_a_store_and_a_warehouse():
    store = LocationFactory(code="SH-STORE", latitude="31.240000")
    warehouse = LocationFactory(code="SH-WH", kind=Location.Kind.WAREHOUSE, latitude="31.400000")
    shelf_item, long_tail = ProductFactory.create_batch(2)
    StockFactory(location=store, product=shelf_item, on_hand=5)
    StockFactory(location=warehouse, product=long_tail, on_hand=5)

    result = route(city_id=store.city_id, destination=HOME, wanted={shelf_item.pk: 1, long_tail.pk: 1})

    assert sent(result) == [(store.pk, {shelf_item.pk: 1}), (warehouse.pk, {long_tail.pk: 1})]


def _city_with(location_count: int, product_count: int):
    city = CityFactory()
    products = ProductFactory.create_batch(product_count)
    for i in range(location_count):
        location = LocationFactory(city=city, latitude=f"31.{230400 + i * 1000}")
        for product in products:
            StockFactory(location=location, product=product, on_hand=5)
    return city, products


@pytest.mark.django_db
@pytest.mark.parametrize(("location_count", "product_count"), [(1, 1), (6, 30)])
def test_load_candidates_takes_two_queries_whatever_the_lines_and_locations(
    django_assert_num_queries, location_count, product_count
):
    city, products = _city_with(location_count, product_count)

    with django_assert_num_queries(2):
        candidates = load_candidates(city_id=city.pk, product_ids=[p.pk for p in products])

    assert len(candidates) == location_count
    assert all(len(c.available) == product_count for c in candidates)
