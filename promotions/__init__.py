"""Promotions and the pricing engine: coupons, raffles, flash sales, campaigns, gift cards."""
