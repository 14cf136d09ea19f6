"""Staff screens for next-day delivery: addresses, carts, slot capacity and shipments,
and the delivery part of the order screen (``OrderDeliveryAdminMixin``, ``ShipmentInline``).

Shipments, carts and the ``taken`` count of a slot change only through the services, so
staff read them here. Staff may correct an address's recipient, phone or text (a shopper
calling the hotline) under the same rules the API applies, and raise or lower a slot's
capacity, never below what is already taken. Change lists join what they show, so their
query count does not grow with the rows.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString

from miniprogram_api.core.errors import DomainError
from miniprogram_api.core.money import format_yuan
from stores.models import Location

from . import addresses, delivery_slots, shipment_changes
from .models import Address, Cart, CartLine, Order, Shipment, ShipmentLine, SlotCapacity


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- Addresses ----------------------------------------------------------------------------


class AddressForm(forms.ModelForm):
    """What staff may write, checked by the API's own rules (``checkout.addresses``)."""

    class Meta:
        model = Address
        fields = ("customer", "recipient", "phone", "text", "city", "latitude", "longitude")

    def clean_phone(self) -> str:
        try:
            return addresses.normalize_phone(self.cleaned_data["phone"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        city, latitude, longitude = data.get("city"), data.get("latitude"), data.get("longitude")
        if city is not None and not city.active:
            self.add_error("city", "This city is not active.")
        elif None not in (city, latitude, longitude):
            try:
                addresses.require_in_service_area(city=city, latitude=latitude, longitude=longitude)
            except addresses.InvalidCoordinates as exc:
                self.add_error(None, exc.message)
            except addresses.AddressOutsideServiceArea as exc:
                km = exc.details["distance_m"] / 1000
                self.add_error(None, f"{exc.message} ({km:.1f} km from the centre; the radius is "
                                     f"{exc.details['service_radius_km']} km.)")  # fmt: skip
        customer = data.get("customer")
        is_new = self.instance.pk is None and customer is not None
        if is_new and Address.objects.filter(customer=customer).count() >= addresses.MAX_ADDRESSES:
            self.add_error("customer", f"This shopper already has {addresses.MAX_ADDRESSES} addresses.")
        return data


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    form = AddressForm
    list_display = ("id", "recipient", "phone", "text", "city", "customer", "is_default", "created_at")
    list_filter = ("city", "is_default")
    list_select_related = ("city", "customer")
    search_fields = ("recipient", "phone", "=customer__username", "customer__nickname")
    raw_id_fields = ("customer",)
    ordering = ("-id",)

    def get_readonly_fields(self, request, obj=None):
        # The default is the shopper's choice; an address stays with the shopper it was made for.
        return ("is_default", "created_at") if obj is None else ("customer", "is_default", "created_at")

    def save_model(self, request, obj, form, change) -> None:
        if not change:  # as in the API: a shopper's first address is their default
            obj.is_default = not Address.objects.filter(customer_id=obj.customer_id).exists()
        super().save_model(request, obj, form, change)


# --- Carts --------------------------------------------------------------------------------


class CartLineInline(_ReadOnlyInline):
    model = CartLine
    fields = ("product", "quantity", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "city", "line_count", "updated_at")
    list_filter = ("city",)
    list_select_related = ("customer", "city")
    search_fields = ("=id", "=customer__username", "customer__nickname")
    ordering = ("-updated_at",)
    fields = ("customer", "city", "created_at", "updated_at")
    readonly_fields = fields
    inlines = (CartLineInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(line_count=Count("lines"))

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="lines", ordering="line_count")
    def line_count(self, cart: Cart) -> int:
        return cart.line_count


# --- Slot capacity ------------------------------------------------------------------------


class SlotCapacityForm(forms.ModelForm):
    class Meta:
        model = SlotCapacity
        fields = ("capacity",)

    def clean_capacity(self) -> int:
        capacity = self.cleaned_data["capacity"]
        taken = SlotCapacity.objects.filter(pk=self.instance.pk).values_list("taken", flat=True).first() or 0
        if capacity < taken:
            raise forms.ValidationError(f"{taken} orders are already promised in this slot.")
        return capacity


@admin.register(SlotCapacity)
class SlotCapacityAdmin(admin.ModelAdmin):
    form = SlotCapacityForm
    list_display = ("location", "date", "slot", "taken", "capacity", "remaining")
    list_filter = ("date", "slot", ("location", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("location",)
    search_fields = ("location__code", "location__name")
    date_hierarchy = "date"
    ordering = ("-date", "location__code", "slot")
    fields = ("location", "date", "slot", "capacity", "taken")
    readonly_fields = ("location", "date", "slot", "taken")

    def has_add_permission(self, request) -> bool:
        return False  # rows are opened by the slot service when a slot is first offered

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="remaining")
    def remaining(self, row: SlotCapacity) -> int:
        return row.capacity - row.taken

    def save_model(self, request, obj, form, change) -> None:
        """Conditional UPDATE: a checkout may take a place between the form's check and the
        save, and the capacity must never drop below what is taken (a CHECK says so too)."""
        updated = SlotCapacity.objects.filter(pk=obj.pk, taken__lte=obj.capacity).update(capacity=obj.capacity)
        if not updated:
            self.message_user(request, "Not saved: more orders were promised meanwhile; try again.", messages.ERROR)


# --- Shipments ----------------------------------------------------------------------------


class ShipmentLineInline(_ReadOnlyInline):
    model = ShipmentLine
    fields = ("product", "quantity", "order_line")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "order_line")


class ShipmentActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=200, label="Reason (to cancel)")


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    """Read-only, but for the two things staff may do before dispatch: re-route a shipment
    to the next nearest location that can serve it, or cancel it
    (``checkout.shipment_changes``). Both are list actions, and buttons on the shipment's
    page and in the shipments of the order's page."""

    list_display = ("id", "order", "location", "slot_date", "slot", "status", "distance", "dispatched_at",
                    "delivered_at")  # fmt: skip
    list_filter = ("status", ("location", admin.RelatedOnlyFieldListFilter), "slot_date")
    list_select_related = ("order", "location")
    search_fields = ("=id", "=order__number", "location__code")
    date_hierarchy = "slot_date"
    ordering = ("-slot_date", "slot", "id")
    inlines = (ShipmentLineInline,)
    actions = ("reroute_selected", "cancel_selected")
    action_form = ShipmentActionForm

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Shipment._meta.fields] + ["staff_actions"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:shipment_id>/reroute/", view(self.reroute_view), name="checkout_shipment_reroute"),
            path("<int:shipment_id>/cancel/", view(self.cancel_view), name="checkout_shipment_cancel"),
            *super().get_urls(),
        ]

    @admin.display(description="staff actions")
    def staff_actions(self, shipment: Shipment) -> SafeString | str:
        return staff_buttons(shipment, back=reverse("admin:checkout_shipment_change", args=[shipment.pk]))

    @admin.action(description="Re-route selected shipments to the next nearest location", permissions=["change"])
    def reroute_selected(self, request: HttpRequest, queryset) -> None:
        for shipment_id in queryset.order_by("pk").values_list("pk", flat=True):
            self._reroute(request, shipment_id)

    @admin.action(description="Cancel selected shipments (give the reason)", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Nothing cancelled: give a reason.", messages.ERROR)
            return
        for shipment_id in queryset.order_by("pk").values_list("pk", flat=True):
            self._cancel(request, shipment_id, reason)

    def reroute_view(self, request: HttpRequest, shipment_id: int) -> HttpResponseRedirect:
        return self._button(request, shipment_id, lambda: self._reroute(request, shipment_id))

    def cancel_view(self, request: HttpRequest, shipment_id: int) -> HttpResponseRedirect:
        def cancel() -> None:
            reason = request.POST.get(f"reason-{shipment_id}", "").strip()
            if reason:
                self._cancel(request, shipment_id, reason)
            else:
                self.message_user(request, f"Shipment {shipment_id} not cancelled: give a reason.", messages.ERROR)

        return self._button(request, shipment_id, cancel)

    def _button(self, request: HttpRequest, shipment_id: int, act) -> HttpResponseRedirect:
        """A button's POST (CSRF-checked like the form it sits in): act, then go back."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        act()
        back = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:checkout_shipment_change", args=[shipment_id])
        return HttpResponseRedirect(back)

    def _reroute(self, request: HttpRequest, shipment_id: int) -> None:
        try:
            done = shipment_changes.reroute_shipment(shipment_id, staff_user=request.user)
        except DomainError as exc:
            self.message_user(request, f"Shipment {shipment_id} not re-routed: {exc.message}", messages.ERROR)
            return
        codes = dict(
            Location.objects.filter(pk__in=[lid for _, lid in done.shipment_locations]).values_list("pk", "code")
        )
        placed = ", ".join(f"shipment {sid} from {codes[lid]}" for sid, lid in done.shipment_locations)
        self.message_user(request, f"Shipment {shipment_id} re-routed: {placed}.", messages.SUCCESS)

    def _cancel(self, request: HttpRequest, shipment_id: int, reason: str) -> None:
        try:
            done = shipment_changes.cancel_shipment(shipment_id, reason=reason, staff_user=request.user)
        except DomainError as exc:
            self.message_user(request, f"Shipment {shipment_id} not cancelled: {exc.message}", messages.ERROR)
            return
        self.message_user(
            request,
            f"Shipment {shipment_id} cancelled; its lines come to {format_yuan(done.refund_due_fen)} after "
            "discounts, recorded on the order for the refund.",
            messages.SUCCESS,
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="distance", ordering="distance_m")
    def distance(self, shipment: Shipment) -> str:
        return f"{shipment.distance_m / 1000:.1f} km"


# --- The delivery part of the order screen ------------------------------------------------


class ShipmentInline(_ReadOnlyInline):
    model = Shipment
    fields = ("location", "slot_date", "slot", "status", "distance_m", "dispatched_at", "delivered_at",
              "staff_actions")  # fmt: skip
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location")

    @admin.display(description="staff actions")
    def staff_actions(self, shipment: Shipment) -> SafeString | str:
        return staff_buttons(shipment, back=reverse("admin:checkout_order_change", args=[shipment.order_id]))


def staff_buttons(shipment: Shipment, *, back: str) -> SafeString | str:
    """Re-route and Cancel buttons for a shipment that has not left yet. They sit inside
    the page's own form (so its CSRF token goes along) and post to the shipment admin's
    views through ``formaction``; the page is all read-only, so nothing else is saved."""
    if shipment.pk is None or shipment.status not in shipment_changes.CHANGEABLE:
        return "-"
    reroute = reverse("admin:checkout_shipment_reroute", args=[shipment.pk])
    cancel = reverse("admin:checkout_shipment_cancel", args=[shipment.pk])
    query = urlencode({"next": back})
    reroute_button = (
        format_html('<button type="submit" formnovalidate formaction="{}?{}">Re-route</button> ', reroute, query)
        if shipment.slot != delivery_slots.EXPRESS
        else ""
    )
    return format_html(
        '{}<input type="text" name="reason-{}" placeholder="reason to cancel" maxlength="200" size="18"> '
        '<button type="submit" formnovalidate formaction="{}?{}">Cancel</button>',
        reroute_button,
        shipment.pk,
        cancel,
        query,
    )


DELIVERY_FIELDS = ("city", "delivery_address_display", "slot_date", "slot", "delivered_at", "routing_explanation")


class OrderDeliveryAdminMixin:
    """For ``OrderAdmin``: the delivery fields in a section of their own, the address and
    the routing explanation readable rather than raw JSON. ``OrderAdmin`` adds these
    ``readonly_fields`` to its own."""

    readonly_fields = ("delivery_address_display", "routing_explanation")

    def get_fieldsets(self, request, obj=None):
        hidden = {"city", "delivery_address", "slot_date", "slot", "routing", "delivered_at"}
        main = [field.name for field in Order._meta.fields if field.name not in hidden and field.name != "id"]
        return [(None, {"fields": main}), ("Delivery", {"fields": DELIVERY_FIELDS})]

    @admin.display(description="delivery address")
    def delivery_address_display(self, order: Order) -> SafeString | str:
        address = order.delivery_address
        if not address:
            return "-"
        if not isinstance(address, dict):
            return str(address)
        return format_html_join("", "{}: {}<br>", ((key, _text(value)) for key, value in address.items()))

    @admin.display(description="routing")
    def routing_explanation(self, order: Order) -> SafeString | str:
        return render_routing(order.routing)


def render_routing(routing: Any) -> SafeString | str:
    """The routing explanation as staff read it: each list of records (locations
    considered, shipments) as a table, other entries as "key: value", and the whole JSON
    folded underneath. Generic on purpose: the explanation may grow fields."""
    if not routing:
        return "-"
    parts = []
    entries = routing.items() if isinstance(routing, dict) else [("routing", routing)]
    for key, value in entries:
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            parts.append(format_html("<p><strong>{}</strong></p>{}", key, _table(value)))
        else:
            parts.append(format_html("<p><strong>{}</strong>: {}</p>", key, _text(value)))
    pretty = json.dumps(routing, indent=2, ensure_ascii=False, sort_keys=True)
    parts.append(format_html("<details><summary>JSON</summary><pre>{}</pre></details>", pretty))
    return format_html_join("", "{}", ((part,) for part in parts))


def _table(rows: list[dict]) -> SafeString:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = format_html_join("", "<th>{}</th>", ((column,) for column in columns))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((_text(row.get(column, "")),) for column in columns)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
