"""`python -m dev.cluster.compose_local`: the one-shot `local-setup` service of docker-compose.yml's profile "local".

Points Airflow at the profile's containers (moto S3 `s3`, the stand-ins `carcutter` and `clippingmagic`) by writing
the local stack's connections and Variables into the metadata DB (the compose file leaves AIRFLOW_CONN_* empty, so
the DB's are used), creates the bucket, uploads a sample data set for today's date and unpauses vehicle_listings:
its scheduled run for today (logical date today 00:00 UTC, catchup off) processes it. The URLs can be overridden
(LOCAL_S3_URL, LOCAL_CARCUTTER_URL, LOCAL_CLIPPINGMAGIC_URL) to try it outside containers.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from dev.sampledata import generate, upload
from dev.stack.services import DEFAULT_BUCKET, LocalStack, StackSettings

DAG_ID = "vehicle_listings"


class ComposeStack(LocalStack):
    """The local stack as the profile's containers, reached by their service names."""

    s3_url = os.environ.get("LOCAL_S3_URL", "http://s3:5000")
    carcutter_url = os.environ.get("LOCAL_CARCUTTER_URL", "http://carcutter:8601")
    clippingmagic_url = os.environ.get("LOCAL_CLIPPINGMAGIC_URL", "http://clippingmagic:8602")


def airflow(*args: str) -> None:
    subprocess.run(["airflow", *args], check=True, stdout=subprocess.DEVNULL)


def write_connections_and_variables(environment: dict[str, str], scratch: Path) -> None:
    connections = {}
    for key, value in environment.items():
        if key.startswith("AIRFLOW_CONN_"):
            connection = json.loads(value)
            if isinstance(connection.get("extra"), dict):
                connection["extra"] = json.dumps(connection["extra"])
            connections[key.removeprefix("AIRFLOW_CONN_").lower()] = connection
    variables = {key.removeprefix("AIRFLOW_VAR_").lower(): value
                 for key, value in environment.items() if key.startswith("AIRFLOW_VAR_")}  # fmt: skip
    (scratch / "connections.json").write_text(json.dumps(connections))
    (scratch / "variables.json").write_text(json.dumps(variables))
    airflow("connections", "import", "--overwrite", str(scratch / "connections.json"))
    airflow("variables", "import", str(scratch / "variables.json"))


def unpause_when_parsed(timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            airflow("dags", "unpause", DAG_ID)
            return
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(10)  # the dag-processor has not parsed it yet


def main() -> None:
    stack = ComposeStack(StackSettings(bucket=os.environ.get("AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET") or DEFAULT_BUCKET))
    listing_date = datetime.now(UTC).strftime("%Y-%m-%d")
    environment = stack.environment()
    os.environ.update({key: value for key, value in environment.items() if key.startswith("AWS_")})
    client = stack.s3_client()
    if stack.bucket not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=stack.bucket)
    with tempfile.TemporaryDirectory() as scratch:
        write_connections_and_variables(environment, Path(scratch))
        sample = generate(Path(scratch) / "sample", vehicles=4, images_per_vehicle=5, bucket=stack.bucket,
                          http_base_url=f"{stack.s3_url}/{stack.bucket}", inject_bad_rows=True)  # fmt: skip
        upload(sample, bucket=stack.bucket, listing_date=listing_date, endpoint_url=stack.s3_url)
    unpause_when_parsed()
    print(f"sample listings for {listing_date} in s3://{stack.bucket}/listings/dt={listing_date}/; {DAG_ID} is "
          "unpaused and its run for today processes them: follow it in the UI (http://localhost:8080)")  # fmt: skip


if __name__ == "__main__":
    main()
