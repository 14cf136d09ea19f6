"""The default delivery fee rule the product promises: free from 169 RMB of goods after
discounts, 8 RMB below that. Editable in the admin; cities may get their own rule."""

from django.db import migrations


def create_default_rule(apps, schema_editor):
    DeliveryFeeRule = apps.get_model("promotions", "DeliveryFeeRule")
    if not DeliveryFeeRule.objects.filter(city__isnull=True).exists():
        DeliveryFeeRule.objects.create(city=None, fee_fen=800, free_from_fen=16900, label="Delivery fee")


def remove_untouched_default_rule(apps, schema_editor):
    DeliveryFeeRule = apps.get_model("promotions", "DeliveryFeeRule")
    DeliveryFeeRule.objects.filter(city__isnull=True, fee_fen=800, free_from_fen=16900).delete()


class Migration(migrations.Migration):
    dependencies = [("promotions", "0002_new_customer_pack")]

    operations = [migrations.RunPython(create_default_rule, remove_untouched_default_rule)]
