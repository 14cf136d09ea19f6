"""Promotion models, one module per kind of promotion.

Promotions sit below checkout in the dependency order, so rows that point at an order
(a locked coupon, a flash-sale reservation, a raffle entry) hold its id as a plain
integer rather than a foreign key into ``checkout``.
"""

from .campaigns import Campaign, CampaignBonusGrant, CampaignScan
from .catalogue_deals import BrandOfTheDay, FlashSale, FlashSaleItem, FlashSaleReservation
from .coupons import Coupon, CouponPack, CouponPackItem, CouponTemplate, NewCustomerPackGrant
from .delivery_fees import DeliveryFeeRule
from .gift_cards import GiftCard, GiftCardDenomination, GiftCardShare, GiftCardTransaction
from .raffles import Raffle, RaffleDay, RaffleEntry, RaffleShopperDay

__all__ = [
    "BrandOfTheDay",
    "Campaign",
    "CampaignBonusGrant",
    "CampaignScan",
    "Coupon",
    "CouponPack",
    "CouponPackItem",
    "CouponTemplate",
    "DeliveryFeeRule",
    "FlashSale",
    "FlashSaleItem",
    "FlashSaleReservation",
    "GiftCard",
    "GiftCardDenomination",
    "GiftCardShare",
    "GiftCardTransaction",
    "NewCustomerPackGrant",
    "Raffle",
    "RaffleDay",
    "RaffleEntry",
    "RaffleShopperDay",
]
