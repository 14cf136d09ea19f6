"""Customers (shoppers and staff), access tokens and WeChat login."""
