"""The delivery fee rule: free from a goods amount, otherwise the city's fee."""

from __future__ import annotations

from django.db import models


class DeliveryFeeRule(models.Model):
    """One rule per city; a rule without a city is the default for cities without one.
    Goods after discounts at or above ``free_from_fen`` deliver free."""

    city = models.OneToOneField("stores.City", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    fee_fen = models.PositiveIntegerField(default=800)
    free_from_fen = models.PositiveIntegerField(default=16900)
    label = models.CharField(max_length=100, default="Delivery fee")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["city"], condition=models.Q(city__isnull=True), name="delivery_fee_rule_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.city or 'default'}: {self.fee_fen} (free from {self.free_from_fen})"
