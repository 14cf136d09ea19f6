"""``Idempotency-Key`` for POSTs that create orders, payments, refunds and transfers."""
