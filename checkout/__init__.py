"""Scan & pay baskets, carts and orders, payments, exit passes, delivery, returns."""
