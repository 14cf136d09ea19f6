"""The expiry sweep's index without ``updated_at``: every scan touches that column, and
PostgreSQL can update a row in place (a HOT update, no index entry rewritten) only when no
indexed column changes. Before, each scan rewrote the basket's five index entries."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("checkout", "0007_after_payment_jobs"),
        ("stores", "0002_delivery_settings"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="basket",
            name="checkout_ba_status_8cb091_idx",
        ),
        migrations.AddIndex(
            model_name="basket",
            index=models.Index(condition=models.Q(("status", "open")), fields=["id"], name="basket_open"),
        ),
    ]
