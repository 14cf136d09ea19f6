"""Delivery slots for the shopper's cart, and checking the cart out."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import addresses, delivery_checkout, delivery_slots

from .delivery_serializers import CartCheckoutInput, DeliveryOptionsOutput, DeliverySlotsQuery
from .idempotent import IDEMPOTENCY_KEY, respond_once
from .orders_serializers import CheckoutOutput
from .schema import ERROR_RESPONSES, ErrorSerializer


class DeliverySlotsView(APIView):
    @extend_schema(
        parameters=[DeliverySlotsQuery],
        responses={
            200: DeliveryOptionsOutput,
            422: OpenApiResponse(ErrorSerializer, description="The store has no pick-up station"),
            **ERROR_RESPONSES,
        },
        summary="When the cart can be delivered or collected",
        description=(
            "With `address_id`: next-day windows to the address (`kind` next_day), express within the hour "
            "from a store within 5 km that has the whole cart in stock and is open (`kind` express, only when "
            "one can), and the windows at the three nearest pick-up stations (`kind` pickup). With "
            "`pickup_store_id` and `city`: that station's windows only. Next-day windows are on `delivery_date`: "
            "tomorrow when asked before the city's `cutoff` (22:00 Asia/Shanghai by default), else the day after. "
            "`remaining` is how many more orders the slot takes at the locations this cart would ship from. "
            "Send an option's `id` as `slot` to checkout. Errors: 400 `validation_error` (neither or both of "
            "`address_id` and `pickup_store_id`, or no `city` with `pickup_store_id`), 400 `unknown_city`, "
            "404 `address_not_found` (also another shopper's), 404 `store_not_found` (not an open store of the "
            "city), 422 `no_pickup_station`."
        ),
        tags=["delivery"],
    )
    def get(self, request):
        query = DeliverySlotsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        if "address_id" in data:
            options = delivery_slots.options_for_address(customer_id=request.user.pk, address_id=data["address_id"])
        else:
            options = delivery_slots.options_for_pickup(
                customer_id=request.user.pk,
                store_id=data["pickup_store_id"],
                city=addresses.active_city(code=data["city"]),
            )
        return Response(DeliveryOptionsOutput(options).data)


class CartCheckoutView(APIView):
    @extend_schema(
        request=CartCheckoutInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: CheckoutOutput,
            409: OpenApiResponse(
                ErrorSerializer,
                description="Out of stock, the slot just filled up, or a coupon or flash-sale unit was just taken",
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description="Empty cart, address in another city, slot not bookable, no pick-up station, a coupon "
                "that does not apply, or Idempotency-Key reused",
            ),
            **ERROR_RESPONSES,
        },
        summary="Check out the cart: reserve its stock and slot, create the order and its payment",
        description=(
            "Prices the city's cart now (channel `delivery`, with the city's delivery fee below its free-delivery "
            "threshold, or `pickup`, with none) and the chosen `coupon_ids`; routes it to the nearest locations "
            "with stock (one shipment per location); reserves the stock and books the slot at each; writes the "
            "order and empties the cart, all or nothing. Unpaid when the payment times out, the order is closed: "
            "its stock and slot are given back and its lines return to the cart. A retry after the cart was "
            "emptied returns the pending order it made when it asks for the same thing. Errors: 400 "
            "`validation_error` (neither or both of `address_id` and `pickup_store_id`, unknown payment method, "
            "more than 2 coupon ids), 400 `unknown_city`, 404 `address_not_found`, 404 `store_not_found`, "
            "409 `out_of_stock` (`details.product_ids`), 409 `slot_full`, 409 `coupon_unavailable`, 409 "
            "`flash_sale_sold_out` / `flash_sale_limit_reached`, 422 `cart_empty`, 422 `address_in_other_city`, "
            "422 `slot_unavailable` (`details.reason`: `past`, `not_offered`, `express_unavailable`), 422 "
            "`no_pickup_station`, 422 `payment_method_unavailable`, 422 `coupon_not_applicable`, 422 "
            "`idempotency_key_reused`."
        ),
        tags=["delivery"],
    )
    def post(self, request):
        data = CartCheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)

        def work() -> tuple[int, dict]:
            result = delivery_checkout.checkout_cart(
                customer_id=request.user.pk,
                city_code=fields["city"],
                slot=fields["slot"],
                payment_method=fields["payment_method"],
                address_id=fields.get("address_id"),
                pickup_store_id=fields.get("pickup_store_id"),
                coupon_ids=fields["coupon_ids"],
                gift_card_ids=fields["gift_card_ids"],
            )
            return status.HTTP_201_CREATED, CheckoutOutput(result).data

        return respond_once(request, scope="POST /api/v1/cart/checkout", payload=fields, work=work)
