"""Car-Cutter for Airflow: hooks, operators, a deferrable sensor and a batch status trigger.

The connection type "carcutter" ("Car-Cutter") keeps the API token in the password field; see
`vehicle_photos.carcutter.provider_info.CONNECTION_TYPE` for the form Airflow shows.
"""
