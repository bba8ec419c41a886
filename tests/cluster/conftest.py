"""One Airflow cluster in the docker-compose topology (CeleryExecutor, Postgres, Redis, two workers) for a module.

Postgres and Redis are this machine's (CLUSTER_POSTGRES_URL / CLUSTER_REDIS_URL, default ports); the cluster
gets its own database and Redis key prefix, dropped afterwards, so parallel runs never meet. On this machine's
Postgres the database is a copy of the session's migrated template (tests/postgres_databases.py), which airflow-init
finds at the head, as on every `docker compose up` after the first.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
import redis

from dev.cluster import AirflowCluster, ClusterSettings
from dev.cluster.launcher import DEFAULT_POSTGRES_URL
from tests.postgres_databases import database_copy

DAG_ID = "vehicle_listings"

# Compose variables the test cluster sets, as a `.env` would (production values: README "Deployment").
TEST_VARIABLES = {
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "false",  # only the runs the tests start
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
    # a task whose worker was killed is failed (and retried) after 20 s instead of 5 minutes
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",  # parsed once at start: CPU for the runs
    # the api-server's first task request loads the DAG: on a busy 2-core machine that can exceed 5 s
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
}


@pytest.fixture(scope="module")
def cluster(local_stack, tmp_path_factory) -> Iterator[AirflowCluster]:
    name = f"vehicle_photos_test_{uuid.uuid4().hex[:10]}"
    settings = ClusterSettings(home=tmp_path_factory.mktemp("cluster"), name=name, variables=TEST_VARIABLES)
    if settings.postgres_url == DEFAULT_POSTGRES_URL:  # the tests' own Postgres, where the template is
        database_copy(name)
        settings = dataclasses.replace(settings, database_exists=True)
    # the Car-Cutter batches must defer (the triggerer is restarted while they are), however fast the stand-in
    no_wait_in_task = {"AIRFLOW_VAR_VEHICLE_PHOTOS_CARCUTTER_WAIT_IN_TASK_SECONDS": "0"}
    cluster = AirflowCluster(settings, {**local_stack.environment(), **no_wait_in_task})
    try:
        cluster.start(wait_for_dags=(DAG_ID,))
    except (psycopg2.OperationalError, redis.ConnectionError) as error:
        pytest.fail(
            f"the cluster tests need Postgres ({settings.postgres_url}) and Redis ({settings.redis_url}); "
            f"set CLUSTER_POSTGRES_URL / CLUSTER_REDIS_URL: {error}"
        )
    yield cluster
    cluster.stop()
