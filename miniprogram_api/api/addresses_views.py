"""Delivery addresses: list, add, read, change and delete the shopper's own.

Every view validates the body with ``AddressInput`` and calls one service of
``checkout.addresses``. At most 20 addresses a shopper: the 21st is a 422
``too_many_addresses`` (a business rule that no retry changes, so not a 409).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import addresses

from .addresses_serializers import AddressInput, AddressOutput
from .schema import ERROR_RESPONSES, ErrorSerializer

ADDRESS_ID = OpenApiParameter("address_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The address's id.")
WRITE_ERRORS = {
    **ERROR_RESPONSES,
    422: OpenApiResponse(ErrorSerializer, description="A business rule refuses it; see the operation's description"),
}
INPUT_ERRORS = (
    "400 `validation_error` (a missing field, a wrong JSON type, text too long, coordinates out of range), 400 "
    "`invalid_phone` (neither a mainland mobile number nor a landline with area code), 400 `invalid_address` "
    "(a blank recipient or address text, or one with control characters), 400 `unknown_city` (no active city "
    "with this code), 422 `address_outside_service_area` (farther from the city centre than its service "
    "radius; `details` has `distance_m`, `service_radius_m` and `service_radius_km`)"
)
NOT_FOUND = "404 `address_not_found` for an unknown address or another shopper's"


class AddressListView(APIView):
    @extend_schema(
        operation_id="addresses_list",
        responses={200: AddressOutput(many=True), **ERROR_RESPONSES},
        summary="The shopper's addresses",
        description="All of them (at most 20, so not paginated): the default first, then the newest.",
        tags=["delivery"],
    )
    def get(self, request):
        return Response(AddressOutput(addresses.address_list(customer_id=request.user.pk), many=True).data)

    @extend_schema(
        operation_id="addresses_create",
        request=AddressInput,
        responses={201: AddressOutput, **WRITE_ERRORS},
        summary="Add an address",
        description=(
            "The shopper's first address becomes the default; `is_default: true` makes a later one the default "
            f"(the previous default stops being one). Errors: {INPUT_ERRORS}, 422 `too_many_addresses` (at most "
            "20 addresses: delete one first)."
        ),
        tags=["delivery"],
    )
    def post(self, request):
        data = AddressInput(data=request.data)
        data.is_valid(raise_exception=True)
        address = addresses.create_address(customer_id=request.user.pk, **data.validated_data)
        return Response(AddressOutput(address).data, status=status.HTTP_201_CREATED)


class AddressDetailView(APIView):
    @extend_schema(
        operation_id="addresses_retrieve",
        parameters=[ADDRESS_ID],
        responses={200: AddressOutput, **ERROR_RESPONSES},
        summary="One address",
        description=f"Errors: {NOT_FOUND}.",
        tags=["delivery"],
    )
    def get(self, request, address_id: int):
        return Response(AddressOutput(addresses.address_get(customer_id=request.user.pk, address_id=address_id)).data)

    @extend_schema(
        operation_id="addresses_partial_update",
        parameters=[ADDRESS_ID],
        request=AddressInput(partial=True),
        responses={200: AddressOutput, **WRITE_ERRORS},
        summary="Change some fields of an address",
        description=(
            "Send only what changes. New coordinates or a new city are checked against the (new) city's service "
            "area. `is_default: true` makes it the only default; `false` on the default leaves the shopper with "
            f"none. Orders already placed keep their own copy. Errors: {INPUT_ERRORS}, {NOT_FOUND}."
        ),
        tags=["delivery"],
    )
    def patch(self, request, address_id: int):
        data = AddressInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        address = addresses.update_address(
            customer_id=request.user.pk, address_id=address_id, changes=data.validated_data
        )
        return Response(AddressOutput(address).data)

    @extend_schema(
        operation_id="addresses_destroy",
        parameters=[ADDRESS_ID],
        request=None,
        responses={204: OpenApiResponse(description="Deleted"), **ERROR_RESPONSES},
        summary="Delete an address",
        description=(
            "Deleting the default leaves the shopper without one until they choose another. Orders already "
            f"placed keep their own copy. Errors: {NOT_FOUND}."
        ),
        tags=["delivery"],
    )
    def delete(self, request, address_id: int):
        addresses.delete_address(customer_id=request.user.pk, address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
