"""Pay-in orders: creation through a provider, reads, and their life until PAID or expired."""
