"""Decimal model fields. Precision is set here once so every app stores money alike.

On SQLite (the embedded default) Django keeps 15 significant digits; PostgreSQL stores these
exactly as NUMERIC. Production runs on PostgreSQL."""

from django.db import models

AMOUNT_DIGITS, AMOUNT_PLACES = 28, 8  # money in any currency, USD valuations, fees
QUANTITY_DIGITS, QUANTITY_PLACES = 36, 18  # asset quantities (ETH has 18 decimals)
PRICE_DIGITS, PRICE_PLACES = 28, 12  # unit prices, including sub-cent tokens


class AmountField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", AMOUNT_DIGITS)
        kwargs.setdefault("decimal_places", AMOUNT_PLACES)
        super().__init__(*args, **kwargs)


class QuantityField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", QUANTITY_DIGITS)
        kwargs.setdefault("decimal_places", QUANTITY_PLACES)
        super().__init__(*args, **kwargs)


class PriceField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", PRICE_DIGITS)
        kwargs.setdefault("decimal_places", PRICE_PLACES)
        super().__init__(*args, **kwargs)


class CurrencyField(models.CharField):
    """An ISO currency or asset code (USD, BTC, USDT), always stored upper case."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value.upper() if isinstance(value, str) else value
