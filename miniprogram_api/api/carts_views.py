"""Delivery carts: read the city's cart priced, add products, change or remove lines.

Every view validates its input, calls one service of ``checkout.carts`` and answers with
the whole priced cart, so the client redraws from one response.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import carts

from .carts_serializers import (
    CartLineAddInput,
    CartLineAddOutput,
    CartLineQuantityInput,
    CartOutput,
    CartQuery,
    cart_data,
)
from .schema import ERROR_RESPONSES, ErrorSerializer

CART_ERRORS = {
    **ERROR_RESPONSES,
    422: OpenApiResponse(ErrorSerializer, description="A business rule refuses it; see the operation's description"),
}
LINE_ID = OpenApiParameter("line_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The cart line's id.")
LINE_NOT_FOUND = "404 `cart_line_not_found` (no such line in the shopper's carts, or another shopper's)"
PRICED = (
    "Lines are priced at the product's base price (store prices do not apply to delivery) with the live "
    "catalogue deals; the city's delivery fee applies while goods after discounts are below "
    "`free_delivery_from_fen`. Coupons are chosen at checkout. Each line says how many units the city's "
    "active locations have available now and whether its quantity can be ordered."
)


class CartView(APIView):
    @extend_schema(
        operation_id="cart_retrieve",
        parameters=[CartQuery],
        responses={200: CartOutput, **ERROR_RESPONSES},
        summary="The shopper's cart in a city, priced now",
        description=(
            f"One cart per shopper and city, created empty on the first read. {PRICED} Errors: 400 "
            "`validation_error` (no `city`), 400 `unknown_city` (no active city with this code)."
        ),
        tags=["delivery"],
    )
    def get(self, request):
        query = CartQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(cart_data(carts.cart_get(customer_id=request.user.pk, **query.validated_data)))


class CartLinesView(APIView):
    @extend_schema(
        operation_id="cart_lines_create",
        request=CartLineAddInput,
        responses={200: CartLineAddOutput, **CART_ERRORS},
        summary="Add a product to the city's cart; returns the priced cart",
        description=(
            "Adds `quantity` to the product's line (one line per product), or starts a line; `line_id` names "
            "it. Any active product that an active location of the city carries may be added, in stock or "
            f"not. {PRICED} Errors: 400 `validation_error` (quantity not an integer 1-99, product_id not an "
            "integer), 400 `unknown_city`, 404 `product_not_found`, 404 `not_sold_in_city` (no active location "
            "of the city carries it), 422 `not_deliverable` (sold by weight: it is weighed in the store, so "
            "it is bought there with scan & pay), 422 `quantity_limit` (a line holds at most 99), 422 "
            "`too_many_lines` (at most 200 lines)."
        ),
        tags=["delivery"],
    )
    def post(self, request):
        data = CartLineAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(CartLineAddOutput(carts.add_line(customer_id=request.user.pk, **data.validated_data)).data)


class CartLineView(APIView):
    @extend_schema(
        operation_id="cart_lines_partial_update",
        parameters=[LINE_ID],
        request=CartLineQuantityInput,
        responses={200: CartOutput, **CART_ERRORS},
        summary="Set a line's quantity; returns the line's cart, priced",
        description=f"Errors: 400 `validation_error` (quantity not an integer 1-99), {LINE_NOT_FOUND}.",
        tags=["delivery"],
    )
    def patch(self, request, line_id: int):
        data = CartLineQuantityInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = carts.change_line_quantity(customer_id=request.user.pk, line_id=line_id, **data.validated_data)
        return Response(cart_data(cart))

    @extend_schema(
        operation_id="cart_lines_destroy",
        parameters=[LINE_ID],
        request=None,
        responses={200: CartOutput, **ERROR_RESPONSES},
        summary="Remove a line; returns the line's cart, priced",
        description=f"Answers 200 with the priced cart (not 204), so the client redraws. Errors: {LINE_NOT_FOUND}.",
        tags=["delivery"],
    )
    def delete(self, request, line_id: int):
        return Response(cart_data(carts.remove_line(customer_id=request.user.pk, line_id=line_id)))
