"""The business calendar's admin days off (`calendar.days_off`): stored, edited by admins, and read by
settlement (business days) and pay-ins (the weekend fee rate and provider schedule) alike."""
