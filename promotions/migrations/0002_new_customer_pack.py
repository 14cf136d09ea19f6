"""The default new-customer pack: four 满减 coupons worth 88 RMB in total, for a first paid
order with at least 59 RMB of goods. Marketing edits it in the admin afterwards; this only
gives a fresh database the retailer's default.

The values are written out here rather than imported, so the migration creates the same
rows however the code changes later.
"""

from django.db import migrations

PACK_NAME = "新人专享 88 元券包"
MIN_GOODS_FEN = 5900
VALID_DAYS = 30
# (name, threshold, amount off), in fen: 1000 + 1800 + 2500 + 3500 = 8800.
COUPONS = [
    ("新人券 满59减10", 5900, 1000),
    ("新人券 满99减18", 9900, 1800),
    ("新人券 满149减25", 14900, 2500),
    ("新人券 满199减35", 19900, 3500),
]


def create_pack(apps, schema_editor):
    CouponPack = apps.get_model("promotions", "CouponPack")
    CouponPackItem = apps.get_model("promotions", "CouponPackItem")
    CouponTemplate = apps.get_model("promotions", "CouponTemplate")
    if CouponPack.objects.filter(kind="new_customer").exists():
        return
    pack = CouponPack.objects.create(name=PACK_NAME, kind="new_customer", min_goods_fen=MIN_GOODS_FEN, active=True)
    for name, threshold_fen, amount_off_fen in COUPONS:
        template = CouponTemplate.objects.create(
            name=name,
            kind="amount_off",
            threshold_fen=threshold_fen,
            amount_off_fen=amount_off_fen,
            scope="everything",
            channels="both",
            stacks_with_catalogue=True,
            valid_days_after_claim=VALID_DAYS,
            claimable=False,
            per_customer_limit=1,
            active=True,
        )
        CouponPackItem.objects.create(pack=pack, template=template, quantity=1)


def remove_pack(apps, schema_editor):
    """Undo only while untouched: once a shopper got the pack, its rows are history."""
    CouponPack = apps.get_model("promotions", "CouponPack")
    CouponTemplate = apps.get_model("promotions", "CouponTemplate")
    pack = CouponPack.objects.filter(kind="new_customer", name=PACK_NAME).first()
    if pack is None or pack.grants.exists():
        return
    template_ids = list(pack.items.values_list("template_id", flat=True))
    pack.delete()
    CouponTemplate.objects.filter(pk__in=template_ids, coupons__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("promotions", "0001_promotions")]

    operations = [migrations.RunPython(create_pack, remove_pack)]
