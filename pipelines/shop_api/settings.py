"""Settings of the shop REST API source."""

PRODUCTION_BASE_URL = "https://api.toltek-shop.example/shop/v1/"
INITIAL_UPDATED_SINCE = "2000-01-01T00:00:00Z"
PAGE_SIZE = 500
ENTITIES = ("customers", "orders", "products")
