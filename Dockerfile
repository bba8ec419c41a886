# The deployment image: Airflow's official image with the project's runtime requirements (installed with the lock)
# and its runtime code (dags/, plugins/, include/). Nothing of dev/, bench/ or tests/ ships.
#
#   docker build --target airflow -t vehicle-photo-pipelines-airflow .   # what every Airflow component runs
#   docker build --target dev -t vehicle-photo-pipelines-dev .           # + stand-ins and sample data (profile local)
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2

FROM ${AIRFLOW_IMAGE} AS airflow
# requirements first: the slow layer is rebuilt only when the pins change
COPY --chown=airflow:0 requirements/runtime.txt requirements/constraints.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir -r /opt/airflow/requirements/runtime.txt -c /opt/airflow/requirements/constraints.txt
# the provider packages (connection types, hooks, operators) installed, so Airflow finds their entry point
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/project/
COPY --chown=airflow:0 plugins /opt/airflow/project/plugins
RUN pip install --no-cache-dir --no-deps /opt/airflow/project
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include
# `include` is imported as a top-level package by the DAGs and the init
ENV PYTHONPATH=/opt/airflow

FROM airflow AS dev
COPY --chown=airflow:0 requirements/dev.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir -r /opt/airflow/requirements/dev.txt -c /opt/airflow/requirements/constraints.txt
COPY --chown=airflow:0 dev /opt/airflow/dev
