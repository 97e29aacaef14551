"""Withdrawals: payouts from a partner's available balance to a bank account, through a provider."""
