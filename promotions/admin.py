"""Staff screens for promotions, where the marketing team works; one module per kind.

Importing the modules registers their screens with the admin site.
"""

from . import admin_campaigns, admin_coupons, admin_deals, admin_gift_cards, admin_raffles  # noqa: F401
