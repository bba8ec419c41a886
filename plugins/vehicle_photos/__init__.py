"""Vehicle photo pipelines: Airflow hooks, operators, sensors and triggers for Car-Cutter and Clipping Magic.

One namespace for the distribution `vehicle-photo-pipelines`, so its packages (`carcutter`, `clippingmagic`,
`image_common`, `run_report`) cannot collide with same-named modules in someone's Airflow image.
"""
