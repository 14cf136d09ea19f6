"""The gift-card amounts the mini-program offers at launch: 50, 100, 200, 500 and 1,000 RMB.
Editable in the admin; a custom amount is possible besides (``GIFT_CARD_CUSTOM_MIN_FEN``)."""

from django.db import migrations

DEFAULT_AMOUNTS_FEN = (5_000, 10_000, 20_000, 50_000, 100_000)


def create_default_denominations(apps, schema_editor):
    GiftCardDenomination = apps.get_model("promotions", "GiftCardDenomination")
    for position, amount_fen in enumerate(DEFAULT_AMOUNTS_FEN):
        GiftCardDenomination.objects.get_or_create(amount_fen=amount_fen, defaults={"sort_order": position})


def remove_default_denominations(apps, schema_editor):
    GiftCardDenomination = apps.get_model("promotions", "GiftCardDenomination")
    GiftCardDenomination.objects.filter(amount_fen__in=DEFAULT_AMOUNTS_FEN).delete()


class Migration(migrations.Migration):
    dependencies = [("promotions", "0004_gift_cards")]

    operations = [migrations.RunPython(create_default_denominations, remove_default_denominations)]
