"""`python -m dev.cluster` (`make cluster`): the docker-compose topology as processes, on the local stack.

Postgres (database `vehicle_photos_cluster`, recreated on every start) and Redis come from CLUSTER_POSTGRES_URL and
CLUSTER_REDIS_URL (default: this machine's, on their default ports). Reuses the stack of `make stack`, starting it
if needed. Ctrl-C stops every component and drops the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from dev.cluster.launcher import ADMIN_USER, AirflowCluster, ClusterSettings
from dev.local_airflow import REPO_ROOT, STACK_ENV_FILE, read_stack_env

CLUSTER_HOME = REPO_ROOT / ".cluster"
DATABASE = "vehicle_photos_cluster"


def main() -> None:
    if not STACK_ENV_FILE.exists():
        subprocess.run([sys.executable, "-m", "dev.stack", "up"], check=True)
    settings = ClusterSettings(
        home=CLUSTER_HOME,
        name=DATABASE,
        workers=int(os.environ.get("CLUSTER_WORKERS", "2")),
        api_port=int(os.environ.get("CLUSTER_API_PORT", "8080")),
        admin_password=os.environ.get("CLUSTER_ADMIN_PASSWORD", "admin"),
    )
    cluster = AirflowCluster(settings, read_stack_env())
    components = ", ".join(name for name in cluster.components if name != "airflow-init")
    print(f"starting {components} (Postgres database {DATABASE}, Redis keys {cluster.key_prefix}*; "
          f"logs in {cluster.home / 'logs'}) ...")  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    cluster.start()
    try:
        print(f"Airflow UI: {cluster.api_url} (user {ADMIN_USER}, password {settings.admin_password}); "
              "Ctrl-C stops it.")  # fmt: skip
        while all(process.poll() is None for process in cluster.processes.values()):
            time.sleep(2)
        stopped = [name for name, process in cluster.processes.items() if process.poll() is not None]
        sys.exit(f"{', '.join(stopped)} stopped; see {cluster.home / 'logs'}")
    except KeyboardInterrupt:
        print("stopping ...")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
