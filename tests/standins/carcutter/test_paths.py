"""The client's path table and the stand-in's agree, and the stand-in serves every path of it."""

from __future__ import annotations

import pytest
import requests

from dev.standins.carcutter import paths as standin_paths
from vehicle_photos.carcutter.utils import paths as client_paths


def path_table(module) -> dict[str, str]:
    return {name: value for name, value in vars(module).items() if name.isupper() and str(value).startswith("/")}


def test_the_client_and_the_stand_in_name_the_same_paths():
    assert path_table(client_paths) == path_table(standin_paths)


@pytest.mark.parametrize("name", sorted(path_table(client_paths)))
def test_the_stand_in_serves_every_path_of_the_client(cc, name):
    """Without credentials: a served path answers 401 (or 405 for another method), an unknown one 404."""
    path = path_table(client_paths)[name]
    answer = requests.request("OPTIONS", f"{cc.url}{path}", timeout=10)
    assert answer.status_code != 404, f"{name} {path}: {answer.status_code}"


def test_an_unknown_path_is_told_apart(cc):
    assert requests.request("OPTIONS", f"{cc.url}/vehicle/no-such-path", timeout=10).status_code == 404
