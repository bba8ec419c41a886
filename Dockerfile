# The deployment image: Airflow's official image plus what ships, and nothing else:
#   - the runtime set (requirements.txt) with its lock (requirements/constraints-runtime.txt);
#   - the provider distribution (the vehicle_photos package: hooks, operators, sensors, triggers, connection types,
#     the Run report link and plugin), built into a wheel and installed like any provider;
#   - the DAG files, with include/ (the code they share) inside the DAGs folder, which Airflow puts on sys.path;
#     dags/.airflowignore keeps the DAG processor from parsing include/ as DAG files.
# Nothing of dev/, bench/ or tests/ ships (the `dev` target adds dev/ for compose's profile "local").
#
#   docker build --target airflow -t vehicle-photo-pipelines-airflow .   # what every Airflow component runs
#   docker build --target dev -t vehicle-photo-pipelines-dev .           # + stand-ins and sample data (profile local)
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2

FROM ${AIRFLOW_IMAGE} AS wheel
COPY --chown=airflow:0 pyproject.toml README.md /tmp/project/
COPY --chown=airflow:0 plugins/vehicle_photos /tmp/project/plugins/vehicle_photos
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/wheels /tmp/project

FROM ${AIRFLOW_IMAGE} AS airflow
# requirements first: the slow layer is rebuilt only when the pins change
COPY --chown=airflow:0 requirements.txt requirements/constraints-runtime.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir -r /opt/airflow/requirements/requirements.txt \
        -c /opt/airflow/requirements/constraints-runtime.txt
COPY --from=wheel /tmp/wheels /tmp/wheels
RUN pip install --no-cache-dir /tmp/wheels/*.whl -c /opt/airflow/requirements/constraints-runtime.txt \
    && pip check
# airflow-init writes airflow.cfg and the simple auth manager's passwords here (docker-compose.yml); a named
# volume mounted on it takes this owner on its first use
USER root
RUN rm -rf /tmp/wheels && install -d -o airflow -g 0 -m 775 /opt/airflow/config
USER airflow
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 include /opt/airflow/dags/include

FROM airflow AS dev
COPY --chown=airflow:0 requirements/dev.txt requirements/constraints-dev.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir -r /opt/airflow/requirements/dev.txt -c /opt/airflow/requirements/constraints-dev.txt
COPY --chown=airflow:0 dev /opt/airflow/dev
