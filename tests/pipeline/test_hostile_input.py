"""Hostile listings and hostile images through the real DAG: every good row is processed, every bad line is
rejected with its line number and reason, every bad image is refused with its reason and never billed, and the
run stays far below 1 GB of memory. No request leaves loopback: private and link-local hosts are refused at
the resolution step."""

from __future__ import annotations

import io
import json
import re
import threading

import pandas as pd
import psutil

from tests.dag_runs import start_dags_test
from tests.image_server import Answer
from tests.photos import car_photo, png_claiming

DS = "2026-11-25"
VINS = [f"WVWZZZ1JZ3W{n:06d}" for n in range(1, 12)]
MAX_SOURCE_BYTES = 400_000


def vehicle(vin: str, *refs: str, angle: str = "front") -> dict:
    return {"vehicle_id": vin, "make": "Skoda", "model": "Octavia",
            "images": [{"ref": ref, "angle": angle} for ref in refs]}  # fmt: skip


def peak_rss_while(process: psutil.Process, done: threading.Event, peak: list[int]) -> None:
    while not done.is_set():
        try:
            tree = [process, *process.children(recursive=True)]
            peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        done.wait(0.2)


def test_bad_lines_and_bad_images_cost_only_themselves(
    airflow_home, tmp_path, bucket, s3_client, image_server, carcutter_server, clippingmagic_server
):
    good = {name: car_photo(n, (320, 240)) for n, name in enumerate(["a", "b", "c", "d", "e"])}
    for name, body in good.items():
        s3_client.put_object(Bucket=bucket, Key=f"photos/{name}.jpg", Body=body, ContentType="image/jpeg")
    bad_objects = {
        "html": (b"<!doctype html><html><body>Not found</body></html>", "text/html"),
        "empty": (b"", "image/jpeg"),
        "truncated": (car_photo(9, (320, 240))[:-300], "image/jpeg"),
        "bomb": (png_claiming(30000, 30000), "image/png"),
    }
    for name, (body, content_type) in bad_objects.items():
        s3_client.put_object(Bucket=bucket, Key=f"photos/{name}.jpg", Body=body, ContentType=content_type)
    s3_client.create_bucket(Bucket=f"{bucket}-private")
    s3_client.put_object(Bucket=f"{bucket}-private", Key="salaries.jpg", Body=good["a"])
    image_server.routes["/huge.jpg"] = Answer(body=good["b"] + b"\0" * MAX_SOURCE_BYTES)
    image_server.routes["/drip.jpg"] = Answer(body=good["c"], drip_seconds=0.01, headers=(("ETag", '"d1"'),))
    image_server.routes["/page.jpg"] = Answer(body=b"<html>login</html>", content_type="text/html")

    good_rows = [
        vehicle(VINS[0], "photos/a.jpg"),
        vehicle(VINS[1], "photos/b.jpg", "photos/html.jpg", "photos/empty.jpg"),
        vehicle(VINS[2], "photos/c.jpg", "photos/truncated.jpg", "photos/bomb.jpg"),
        vehicle(VINS[3], "photos/d.jpg", f"s3://{bucket}-nonexistent/x.jpg", f"s3://{bucket}-private/salaries.jpg"),
        vehicle(VINS[4], "photos/e.jpg", "http://10.0.0.7/car.jpg", "http://169.254.169.254/latest/meta-data/x.jpg"),
        vehicle(VINS[5], "photos/a.jpg", image_server.url("/huge.jpg"), image_server.url("/drip.jpg"),
                image_server.url("/page.jpg")),
        vehicle(VINS[6], "photos/b.jpg", angle="interior"),  # Clipping Magic
        vehicle(VINS[7], "photos/html.jpg", image_server.url("/page.jpg"), angle="interior"),
    ]  # fmt: skip
    csv_rows = [json.dumps(r["images"]) for r in good_rows[:3]]
    csv = "vehicle_id,make,model,images\n" + "\n".join(
        [f'{r["vehicle_id"]},Skoda,Octavia,"{images.replace(chr(34), chr(34) * 2)}"' for r, images in
         zip(good_rows[:2], csv_rows, strict=False)]
        + [f"{VINS[8]},Skoda,Octavia,[],one,column,too,many", f'{VINS[9]},Skoda,"Octavia,[]']
    )  # fmt: skip
    jsonl = "\n".join([
        json.dumps(good_rows[2]), "{not json", "[1, 2, 3]", json.dumps({"vehicle_id": VINS[10], "deep": _nested(200)}),
        json.dumps({**good_rows[3], "dealer_note": "an unknown key: ignored with a warning"}),
        json.dumps(good_rows[4]), json.dumps(good_rows[5]),
    ])  # fmt: skip
    parquet = io.BytesIO()
    frame = pd.DataFrame([{**row, "images": row["images"]} for row in good_rows[6:]])
    frame.to_parquet(parquet, index=False)
    for name, body in (("a.csv", csv.encode()), ("b.jsonl", jsonl.encode()), ("c.parquet", parquet.getvalue()),
                       ("d.xlsx", b"PK\x03\x04 not a listing")):  # fmt: skip
        s3_client.put_object(Bucket=bucket, Key=f"listings/dt={DS}/{name}", Body=body)

    env = {"AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket, "AIRFLOW_VAR_VEHICLE_PHOTOS_MAX_SOURCE_BYTES":
           str(MAX_SOURCE_BYTES), "AIRFLOW_VAR_VEHICLE_PHOTOS_SOURCE_DEADLINE_SECONDS": "3",
           # a configured bucket that does not exist fails its images only; the private one is not configured
           "AIRFLOW_VAR_VEHICLE_PHOTOS_ALLOWED_BUCKETS": f"{bucket},{bucket}-nonexistent"}  # fmt: skip
    run = start_dags_test("vehicle_listings", DS, tmp_path / "run.log", {}, **env)
    done, peak = threading.Event(), [0]
    watcher = threading.Thread(target=peak_rss_while, args=(psutil.Process(run.pid), done, peak))
    watcher.start()
    code = run.wait(timeout=600)
    done.set()
    watcher.join()
    log = (tmp_path / "run.log").read_text()
    assert code == 0, log[-6000:]
    assert peak[0] < 1024**3, f"peak RSS {peak[0] / 1024**2:.0f} MB"

    manifest = json.loads(s3_client.get_object(Bucket=bucket, Key=f"manifests/dt={DS}/manifest.json")["Body"].read())
    by_source = {(row["vehicle_id"], row["source"].rsplit("/", 1)[-1]): row for row in manifest}
    assert {row["vehicle_id"] for row in manifest} == {row["vehicle_id"] for row in good_rows}
    finals = {key for key, row in by_source.items() if row["status"] == "final"}
    assert finals == {(VINS[0], "a.jpg"), (VINS[1], "b.jpg"), (VINS[2], "c.jpg"), (VINS[3], "d.jpg"),
                      (VINS[4], "e.jpg"), (VINS[5], "a.jpg"), (VINS[6], "b.jpg")}  # fmt: skip
    reasons = {key: row["error"] for key, row in by_source.items() if row["status"] != "final"}
    expected = {
        (VINS[1], "html.jpg"): "HTML page|not an image", (VINS[1], "empty.jpg"): "empty",
        (VINS[2], "truncated.jpg"): "truncated", (VINS[2], "bomb.jpg"): "pixel",
        (VINS[3], "x.jpg"): "bucket does not exist", (VINS[3], "salaries.jpg"): "not an allowed image bucket",
        (VINS[4], "car.jpg"): "private", (VINS[4], "x.jpg"): "link-local",
        (VINS[5], "huge.jpg"): "limit", (VINS[5], "drip.jpg"): "took longer", (VINS[5], "page.jpg"): "not an image",
        (VINS[7], "html.jpg"): "HTML page|not an image", (VINS[7], "page.jpg"): "not an image",
    }  # fmt: skip
    assert set(reasons) == set(expected)
    for key, words in expected.items():
        assert re.search(words, reasons[key]), (key, reasons[key])
        assert by_source[key]["status"] == "refused"
    assert sum(carcutter_server.ledger()["charges"].values()) == 5  # a, b, c, d, e (a listed twice: once)
    assert sum(clippingmagic_server.ledger()["charges"].values()) == 1

    rejected = [json.loads(line) for line in s3_client.get_object(
        Bucket=bucket, Key=f"rejected/dt={DS}/rejected.jsonl")["Body"].read().decode().splitlines()]  # fmt: skip
    lines = {(row["file"].rsplit("/", 1)[-1], row["line"]) for row in rejected}
    assert lines == {("a.csv", 4), ("a.csv", 5), ("b.jsonl", 2), ("b.jsonl", 3), ("b.jsonl", 4), ("d.xlsx", None)}
    assert all(row["reason"] for row in rejected)
    assert "dealer_note" in log  # the unknown key was ignored with a warning, not a rejection
    report = s3_client.get_object(Bucket=bucket, Key=f"reports/dt={DS}/report.html")["Body"].read().decode()
    assert "d.xlsx" in report and "not an allowed image bucket" in report


def _nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"x": value}
    return value
