"""Who may reach the API: IP allow-lists, rate limits, and the partner request log."""
