"""atende: the customer-support gateway between messaging channels and operators."""

__version__ = "0.1.0"
