"""The docker-compose topology (CeleryExecutor on Postgres and Redis) as processes: `make cluster` and the
cluster tests. docker-compose.yml is the source of its components, commands and settings."""

from dev.cluster.launcher import AirflowCluster, ClusterSettings, Component

__all__ = ["AirflowCluster", "ClusterSettings", "Component"]
