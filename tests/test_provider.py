"""The project is installed as an Airflow provider: both connection types reach Airflow's providers manager."""

from airflow.providers_manager import ProvidersManager


def test_both_connection_types_are_registered_and_testable():
    hooks = ProvidersManager().hooks
    assert hooks["carcutter"].hook_class_name == "vehicle_photos.carcutter.hooks.carcutter.CarCutterHook"
    assert (
        hooks["clippingmagic"].hook_class_name == "vehicle_photos.clippingmagic.hooks.clippingmagic.ClippingMagicHook"
    )
    assert hooks["carcutter"].connection_testable
    assert hooks["clippingmagic"].connection_testable
    assert hooks["carcutter"].hook_name == "Car-Cutter"
    assert hooks["clippingmagic"].hook_name == "Clipping Magic"
