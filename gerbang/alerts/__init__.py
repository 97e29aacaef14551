"""Alerts for operators: listed in the admin API, sent to Telegram by the worker when it is configured.

They are written by `gerbang.events.alerts` (in the transaction of the change they report); this module
reads them (`service`, `endpoints`) and delivers them (`delivery`, through `telegram`).
"""
