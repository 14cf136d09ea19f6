"""Demo couriers for the local run, so delivery orders get dispatched: three per active
city, created once (a rerun creates nothing)."""

from __future__ import annotations

from stores.models import City

from .models import Courier

COURIERS_PER_CITY = 3
DEMO_NAMES = ("Zhao Lei", "Sun Fang", "Zhou Qiang")


def seed_demo_delivery() -> dict[str, int]:
    created = 0
    for city in City.objects.filter(active=True).order_by("code"):
        for index, name in enumerate(DEMO_NAMES[:COURIERS_PER_CITY], start=1):
            _, was_created = Courier.objects.get_or_create(
                city=city,
                provider_ref=f"demo-{city.code}-{index}",
                defaults={"name": f"{name} ({city.name})", "phone": f"1380000{city.pk:02d}{index:02d}"[:11]},
            )
            created += was_created
    return {"couriers": created}
