"""Clipping Magic for Airflow: hook, operators, deferrable result sensor and trigger.

The connection type "clippingmagic" ("Clipping Magic") keeps the API id in the login and the API key in the
password field; see `vehicle_photos.clippingmagic.provider_info.CONNECTION_TYPE` for the form Airflow shows.
"""
