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


def test_provider_metadata_declares_the_plugin_and_the_extra_link():
    """`pip install` alone registers them: the provider's metadata, as Airflow's own providers declare theirs."""
    import tomllib
    from pathlib import Path

    from vehicle_photos.provider import VERSION, get_provider_info

    info = get_provider_info()
    assert info["extra-links"] == ["vehicle_photos.run_report.links.RunReportLink"]
    assert info["plugins"] == [
        {"name": "vehicle_photos", "plugin-class": "vehicle_photos.run_report.plugin.VehiclePhotosPlugin"}
    ]
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == VERSION
    entry_point = pyproject["project"]["entry-points"]["airflow.plugins"]["vehicle_photos"]
    assert entry_point.replace(":", ".") == info["plugins"][0]["plugin-class"]


def test_the_plugin_loads_from_the_installed_distribution_not_a_plugins_folder():
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    (plugin,) = [plugin for plugin in plugins if plugin.name == "vehicle_photos"]
    assert "EntryPointSource" in type(plugin.source).__name__
    assert not errors
    assert [app["url_prefix"] for app in plugin.fastapi_apps] == ["/run-report"]
