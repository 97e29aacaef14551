"""gerbang: a payment-gateway aggregator for Indonesian merchants."""

__version__ = "0.1.0"
