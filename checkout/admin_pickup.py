"""The pick-up station's screen in the admin: hand an order over by its pick-up code.

Staff pick their store once (it stays chosen for the next shopper), type or scan the code
the shopper shows, and the order is collected (``pickup_codes.hand_over``). Reached from
the order list ("Hand over a pick-up order"); needs the permission to change orders.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from miniprogram_api.core.errors import DomainError
from stores.models import Location

from . import pickup_codes

URL_NAME = "checkout_order_pickup_handover"


class HandOverForm(forms.Form):
    store = forms.ModelChoiceField(
        queryset=Location.objects.filter(has_pickup_station=True, active=True).order_by("code"),
        help_text="The store whose pick-up station you are at.",
    )
    code = forms.CharField(
        label="Pick-up code",
        min_length=pickup_codes.CODE_DIGITS,
        max_length=pickup_codes.CODE_DIGITS,
        validators=[RegexValidator(r"^\d+$", "The code is 8 digits.")],
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "inputmode": "numeric"}),
        help_text="The 8 digits under the shopper's QR code (a scanner types them in).",
    )


class PickupHandoverAdminMixin:
    """For ``OrderAdmin``: the hand-over form at ``pickup-handover/``."""

    def get_urls(self):
        handover = path("pickup-handover/", self.admin_site.admin_view(self.pickup_handover_view), name=URL_NAME)
        return [handover, *super().get_urls()]

    def pickup_handover_view(self, request):
        if not request.user.has_perm("checkout.change_order"):
            raise PermissionDenied
        form = HandOverForm(request.POST or None, initial={"store": request.GET.get("store")})
        if request.method == "POST" and form.is_valid():
            store = form.cleaned_data["store"]
            try:
                order = pickup_codes.hand_over(
                    store_id=store.pk, code=form.cleaned_data["code"], staff_id=request.user.pk
                )
            except DomainError as exc:
                form.add_error("code", exc.message)
            else:
                self.message_user(
                    request,
                    f"Order {order.number} handed over: {order.item_count} items.",
                    messages.SUCCESS,
                )
                return redirect(f"{reverse(f'admin:{URL_NAME}')}?store={store.pk}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Hand over a pick-up order",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/checkout/order/pickup_handover.html", context)
