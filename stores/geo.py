"""Great-circle distance on the Earth, in metres: in Python, and as an ORM expression.

Both use the haversine formula on a sphere of the Earth's mean radius. Over the distances
that matter here (a shopper to a store, a household to a warehouse: tens of kilometres)
the spherical error is well under 0.5%, which is far finer than "nearest store first"
needs, and it keeps the database side to functions SQLite and PostgreSQL both have
(Django registers the math functions on SQLite), so no PostGIS is required.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import F, FloatField, Value
from django.db.models.expressions import Combinable, ExpressionWrapper
from django.db.models.functions import ASin, Cast, Cos, Least, Power, Radians, Sin, Sqrt

EARTH_MEAN_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class GeoPoint:
    """A WGS-84-style latitude/longitude pair in decimal degrees."""

    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and -90 <= self.latitude <= 90):
            raise ValueError(f"latitude must be within -90..90, got {self.latitude!r}")
        if not (math.isfinite(self.longitude) and -180 <= self.longitude <= 180):
            raise ValueError(f"longitude must be within -180..180, got {self.longitude!r}")


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance between two points, in metres."""
    phi1, phi2 = math.radians(a.latitude), math.radians(b.latitude)
    d_phi = phi2 - phi1
    d_lambda = math.radians(b.longitude - a.longitude)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    # Rounding can push h a hair past 1 for antipodal points, where asin is undefined.
    return 2 * EARTH_MEAN_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))


def distance_m_expression(
    origin: GeoPoint, *, latitude_field: str = "latitude", longitude_field: str = "longitude"
) -> Combinable:
    """An expression for the distance in metres from ``origin`` to each row's coordinates.

    Meant for ``.annotate(distance_m=...)`` and ``.order_by("distance_m")``. The origin's
    trigonometry is done once here rather than per row. The columns are decimals, cast
    to float because PostgreSQL's trigonometric functions take double precision.
    """
    phi1 = math.radians(origin.latitude)
    phi2 = Radians(Cast(F(latitude_field), FloatField()))
    lambda2 = Radians(Cast(F(longitude_field), FloatField()))
    half_d_phi = (phi2 - Value(phi1)) / Value(2.0)
    half_d_lambda = (lambda2 - Value(math.radians(origin.longitude))) / Value(2.0)
    h = Power(Sin(half_d_phi), 2) + Value(math.cos(phi1)) * Cos(phi2) * Power(Sin(half_d_lambda), 2)
    return ExpressionWrapper(
        Value(2 * EARTH_MEAN_RADIUS_M) * ASin(Sqrt(Least(h, Value(1.0)))), output_field=FloatField()
    )
