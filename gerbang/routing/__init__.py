"""Provider accounts and the choice of one for each order."""
