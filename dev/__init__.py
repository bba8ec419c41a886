"""Development-only code: the API stand-ins, sample data, the local stack, the demo and local Airflow.

Nothing here ships in the deployment image; `dags/`, `plugins/` and `include/` never import it.
"""
