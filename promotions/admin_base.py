"""What the promotion screens share: the activate / deactivate / duplicate actions,
read-only screens for the rows only the services write (coupons, reservations, entries),
and inlines whose autocompletes cost no query per row.

Marketing runs the same campaign shapes again and again, so "duplicate" is how a new one
starts: the copy is switched off (a copy must never go live by accident) and its counters
start at zero; each screen says what else a copy carries (scope, items) in ``duplicate``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.db import models, transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from . import live_deals

COPY_SUFFIX = " (copy)"


def copy_name(name: str, max_length: int) -> str:
    """``name`` plus " (copy)", shortened first so the result still fits the column."""
    return name[: max_length - len(COPY_SUFFIX)] + COPY_SUFFIX


def save_copy(obj: models.Model, *, m2m: tuple[str, ...] = (), **changes) -> models.Model:
    """Insert a copy of ``obj`` with ``changes`` applied and the same ``m2m`` relations;
    ``obj`` itself is left untouched."""
    copy = type(obj).objects.get(pk=obj.pk)
    copy.pk = None
    copy._state.adding = True
    for name, value in changes.items():
        setattr(copy, name, value)
    copy.save()
    for name in m2m:
        getattr(copy, name).set(getattr(obj, name).all())
    return copy


def count_of(queryset, field: str) -> Coalesce:
    """A correlated ``COUNT`` of ``queryset`` rows whose ``field`` is the outer row: one
    subquery in the change list's SELECT, evaluated for the rows on the page."""
    counted = queryset.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


class SwitchableAdmin(admin.ModelAdmin):
    """A promotion with an ``active`` switch and a ``name``; subclasses say how to copy one."""

    actions = ("activate_selected", "deactivate_selected", "duplicate_selected")

    def duplicate(self, obj: models.Model) -> models.Model:
        """Save and return a switched-off copy of ``obj`` with fresh counters."""
        name_field = obj._meta.get_field("name")
        return save_copy(obj, name=copy_name(obj.name, name_field.max_length), active=False)

    @admin.action(description="Activate selected %(verbose_name_plural)s", permissions=["change"])
    def activate_selected(self, request, queryset) -> None:
        count = queryset.filter(active=False).update(active=True)
        live_deals.forget()  # no signal for a bulk UPDATE; cheap for the promotions it does not hold
        self.message_user(request, f"Activated {count} {self._noun(count)}.", messages.SUCCESS)

    @admin.action(description="Deactivate selected %(verbose_name_plural)s", permissions=["change"])
    def deactivate_selected(self, request, queryset) -> None:
        count = queryset.filter(active=True).update(active=False)
        live_deals.forget()
        self.message_user(request, f"Deactivated {count} {self._noun(count)}.", messages.SUCCESS)

    @admin.action(description="Duplicate selected %(verbose_name_plural)s (copies start switched off)",
                  permissions=["add"])  # fmt: skip
    def duplicate_selected(self, request, queryset) -> None:
        with transaction.atomic():
            copies = [self.duplicate(obj) for obj in queryset.order_by("pk")]
        names = ", ".join(str(copy) for copy in copies)
        self.message_user(
            request, f"Created {len(copies)} switched-off {self._noun(len(copies))}: {names}.", messages.SUCCESS
        )

    def _noun(self, count: int) -> str:
        meta = self.model._meta
        return str(meta.verbose_name if count == 1 else meta.verbose_name_plural)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the services (a coupon's status, a raffle draw): staff look,
    nobody adds, edits or deletes, so the figures built on them stay true."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class KnownChoiceAutocompleteSelect(AutocompleteSelect):
    """An autocomplete that renders its current choice from a label it was handed.

    Django's widget looks up the selected row's label with one query per widget, which in
    an inline is one query per row; the inline below passes in the row it already joined.
    """

    known: dict[str, str] = {}

    def optgroups(self, name, value, attr=None):
        selected = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        if not selected or not selected <= self.known.keys():
            return super().optgroups(name, value, attr)
        options = [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        for key in sorted(selected):
            options.append(self.create_option(name, key, self.known[key], selected, len(options)))
        return [(None, options, 0)]


class AutocompleteInline(admin.TabularInline):
    """A tabular inline whose ``autocomplete_fields`` are joined once for all rows and
    rendered from that join, so its page costs the same queries for 3 rows or 300."""

    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.autocomplete_fields)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = KnownChoiceAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        names = tuple(self.get_autocomplete_fields(request))

        class KnownChoicesFormSet(formset):
            def _construct_form(self, i, **form_kwargs):
                form = super()._construct_form(i, **form_kwargs)
                _hand_known_choices(form, names)
                return form

        return KnownChoicesFormSet


def _hand_known_choices(form, names: tuple[str, ...]) -> None:
    instance = form.instance
    for name in names:
        field = form.fields.get(name)
        related = instance._meta.get_field(name)
        if field is None or not related.is_cached(instance):
            continue
        widget = getattr(field.widget, "widget", field.widget)  # inside the add/change-link wrapper
        chosen = related.get_cached_value(instance)
        if isinstance(widget, KnownChoiceAutocompleteSelect) and chosen is not None:
            widget.known = {str(chosen.pk): field.label_from_instance(chosen)}
