"""The partner console API under `/api/v1/client`: a partner's own users, scoped to their partner."""
