"""Airflow on this machine, pointed at the local stack: `make airflow` and `make backfill`.

`python -m dev.local_airflow standalone` (`make airflow`) uses the stack of `make stack` (and starts it, and
stops it again on the way out, when it is not running), migrates the SQLite metadata DB in `.airflow/`,
creates the API pools, stores the connections `aws_default`, `carcutter_default` and `clippingmagic_default`
in the metadata DB (Admin -> Connections lists them; their Test buttons work) and runs `airflow standalone`
bound to 127.0.0.1. Locally the scheduler creates no scheduled runs (`use_job_schedule = False`): the only
runs are the ones you trigger or backfill. Ctrl-C stops every process it started.

`python -m dev.local_airflow backfill --from-date D1 --to-date D2` (`make backfill`) creates a backfill
in that running Airflow.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from include.pools import POOLS

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK_ENV_FILE = REPO_ROOT / ".stack" / "env"
DEFAULT_HOME = REPO_ROOT / ".airflow"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DAG_ID = "vehicle_listings"
LOCAL_PARALLELISM = 8  # task slots (the LocalExecutor starts a worker process per slot); the pools allow 6
STATE_FILE_NAME = "local-airflow.json"  # in AIRFLOW_HOME while `make airflow` runs: its URL and pid
CONNECTION_PREFIX = "AIRFLOW_CONN_"
CONNECTION_DESCRIPTIONS = {
    "aws": "moto's S3 server of the local stack (make stack)",
    "carcutter": "Car-Cutter stand-in of the local stack (make stack)",
    "clippingmagic": "Clipping Magic stand-in of the local stack (make stack)",
}


def airflow_environment(home: Path, stack_env: Mapping[str, str]) -> dict[str, str]:
    """Environment for an Airflow process: SQLite in `home`, LocalExecutor, our dags, no examples; the plugin comes
    with the installed provider (`pip install -e .`), not from a plugins folder.
    Connections come from the stack's `AIRFLOW_CONN_*` variables (`standalone` moves them into the DB)."""
    return {
        **os.environ,
        **stack_env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # waits in the triggerer, as the deployments have it (docker-compose.yml, Helm values)
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the connection form's Test button
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "plugins")]),
        # `airflow standalone` starts its components as `airflow ...` commands: this venv's must be found
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def standalone_environment(
    home: Path, stack_env: Mapping[str, str], *, host: str, port: int, login: bool
) -> dict[str, str]:
    """`airflow_environment` for `make airflow`: the UI on host:port, connections in the metadata DB rather
    than in variables (which would hide the DB's and ignore edits made in the UI), no scheduled runs."""
    env = airflow_environment(home, stack_env)
    for key in [key for key in env if key.startswith(CONNECTION_PREFIX)]:
        del env[key]
    env.update(
        {
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{local_url(host, port)}/execution/",
            # locally only the runs you trigger or backfill exist: no run of "today" that waits for listings
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(not login),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__PARALLELISM": str(LOCAL_PARALLELISM),
        }
    )
    return env


def local_url(host: str, port: int) -> str:
    """The URL of the UI from this machine."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connections_from(stack_env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The stack's `AIRFLOW_CONN_<ID>` variables as `airflow connections import` entries.

    Each gets an explicit port: for a connection stored without one, the Test button of Admin -> Connections
    posts `port: 0`, which Airflow 3.3 refuses ("Bad Request") as a test against another endpoint.
    """
    from urllib.parse import urlsplit

    connections = {}
    for key, value in stack_env.items():
        if not key.startswith(CONNECTION_PREFIX):
            continue
        connection = json.loads(value)
        if connection.get("host") and "port" not in connection:
            connection["port"] = urlsplit(connection["host"]).port
        connection.setdefault("description", CONNECTION_DESCRIPTIONS.get(connection["conn_type"]))
        connections[key.removeprefix(CONNECTION_PREFIX).lower()] = connection
    return connections


def airflow_commands(env: Mapping[str, str], commands: Sequence[Sequence[str]], quiet: bool = True) -> None:
    """Run several `airflow` CLI commands in one process (each `airflow` start costs seconds)."""
    output = subprocess.DEVNULL if quiet else None
    subprocess.run(
        [sys.executable, "-m", "dev.local_airflow", "_cli", json.dumps([list(command) for command in commands])],
        env=dict(env),
        check=True,
        stdout=output,
        cwd=REPO_ROOT,
    )


def prepare(env: Mapping[str, str], connections: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Migrate the metadata DB, create the API pools and store `connections` (all idempotent)."""
    pools = {name: {"slots": slots, "description": text} for name, (slots, text) in POOLS.items()}
    with tempfile.TemporaryDirectory(prefix="local-airflow-") as scratch:
        pools_file = Path(scratch) / "pools.json"
        pools_file.write_text(json.dumps(pools))
        commands = [["db", "migrate"], ["pools", "import", str(pools_file)]]
        if connections:
            connections_file = Path(scratch) / "connections.json"
            connections_file.write_text(json.dumps(connections))
            commands.append(["connections", "import", "--overwrite", str(connections_file)])
        airflow_commands(env, commands)


def read_stack_env(path: Path = STACK_ENV_FILE) -> dict[str, str]:
    """The `export KEY=value` lines of `.stack/env` (written by `make stack`)."""
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    return env


def health(url: str) -> dict[str, Any] | None:
    import requests

    try:
        response = requests.get(f"{url}/api/v2/monitor/health", timeout=2)
    except requests.RequestException:
        return None
    return response.json() if response.ok else None


def is_ready(url: str) -> bool:
    """The api-server answers and the scheduler and dag-processor are heartbeating."""
    status = health(url) or {}
    return all((status.get(name) or {}).get("status") == "healthy" for name in ("scheduler", "dag_processor"))


def banner(url: str, home: Path, login: bool, host: str) -> str:
    if login:
        who = f"log in as admin, password in {home / 'simple_auth_manager_passwords.json.generated'}"
    else:
        who = "no login: every visitor is an admin"
    reach = "this machine only" if is_loopback(host) else f"every host that reaches {host}"
    return "\n".join(
        [
            "",
            f"Airflow UI: {url}  ({who}; reachable from {reach})",
            "  Admin -> Connections: aws_default, carcutter_default, clippingmagic_default (the local stack)",
            "  No scheduled runs locally: only the runs you trigger (or `make backfill`) run.",
            "  A date's listings into the local S3: make sample-data DATE=YYYY-MM-DD",
            "Ctrl-C stops Airflow and every process it started.",
            "",
        ]
    )


def standalone(home: Path, stack_env_file: Path, host: str, port: int, login: bool) -> int:
    from dev.process_tree import run_until_stopped
    from dev.stack.services import free_port

    if not is_loopback(host) and not login:
        print(f"binding {host}, not loopback: the UI asks for a login (user admin)")
        login = True
    if not port_is_free(host, port):
        sys.exit(f"port {port} on {host} is in use: choose another one, e.g. make airflow UI_PORT={port + 10}")
    started_stack = False
    if not stack_env_file.exists():
        if stack_env_file != STACK_ENV_FILE:
            sys.exit(f"{stack_env_file} does not exist")
        subprocess.run([sys.executable, "-m", "dev.stack", "up"], check=True, cwd=REPO_ROOT)
        started_stack = True
    try:
        stack_env = read_stack_env(stack_env_file)
        if not stack_answers(stack_env):
            sys.exit(f"the stack of {stack_env_file} does not answer: `make stack-down`, then `make airflow` again")
        home.mkdir(parents=True, exist_ok=True)
        env = standalone_environment(home, stack_env, host=host, port=port, login=login)
        # the scheduler's and triggerer's log servers: free ports, not 8793 / 8794, which others may hold
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
        print(f"preparing the metadata DB in {home} ...", flush=True)
        prepare(env, connections_from(stack_env))
        url = local_url(host, port)
        state_file = home / STATE_FILE_NAME
        state_file.write_text(json.dumps({"url": url, "pid": os.getpid(), "stack_env": str(stack_env_file)}))
        try:
            return run_until_stopped(
                [sys.executable, "-m", "airflow", "standalone"],
                env,
                name="Airflow",
                ready=lambda: is_ready(url),
                on_ready=lambda: print(banner(url, home, login, host), flush=True),
            )
        finally:
            state_file.unlink(missing_ok=True)
    finally:
        if started_stack:
            subprocess.run([sys.executable, "-m", "dev.stack", "down"], check=False, cwd=REPO_ROOT)


def stack_answers(stack_env: Mapping[str, str]) -> bool:
    import requests

    try:
        requests.get(stack_env["STACK_S3_URL"], timeout=5)
    except requests.RequestException:
        return False
    return True


def port_is_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def running_airflow(home: Path) -> dict[str, Any]:
    """What `make airflow` wrote about itself; exits with advice when it is not running."""
    state_file = home / STATE_FILE_NAME
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    if not state or not _alive(state["pid"]) or health(state["url"]) is None:
        sys.exit("Airflow is not running: start `make airflow` in another terminal first.")
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def dates_without_listings(stack_env: Mapping[str, str], first: dt.date, last: dt.date) -> list[dt.date]:
    """Dates with nothing under listings/dt=<date>/ nor archive/dt=<date>/ in the stack's bucket."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=stack_env["STACK_S3_URL"],
        aws_access_key_id=stack_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack_env["AWS_SECRET_ACCESS_KEY"],
        region_name=stack_env["AWS_DEFAULT_REGION"],
    )
    bucket = stack_env["STACK_BUCKET"]
    missing = []
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        prefixes = (f"listings/dt={day.isoformat()}/", f"archive/dt={day.isoformat()}/")
        if not any(client.list_objects_v2(Bucket=bucket, Prefix=p, MaxKeys=1).get("KeyCount") for p in prefixes):
            missing.append(day)
    return missing


def backfill(home: Path, first: dt.date, last: dt.date, reprocess: str) -> None:
    state = running_airflow(home)
    stack_env = read_stack_env(Path(state["stack_env"]))
    env = airflow_environment(home, {})
    for day in dates_without_listings(stack_env, first, last):
        print(
            f"warning: no listings for {day} in s3://{stack_env['STACK_BUCKET']}/listings/dt={day}/ "
            f"(make sample-data DATE={day}); its run will wait for them"
        )
    # one date at a time, in order: an image done on one date is reused by the next, never raced;
    # by default, dates whose run succeeded are left alone and failed ones run again
    create = ["backfill", "create", "--dag-id", DAG_ID, "--from-date", first.isoformat(), "--to-date",
              last.isoformat(), "--max-active-runs", "1", "--reprocess-behavior", reprocess]  # fmt: skip
    airflow_commands(env, [["dags", "unpause", DAG_ID], create], quiet=False)
    print(
        f"\nbackfill of {DAG_ID} {first} .. {last} created; follow it at {state['url']}/dags/{DAG_ID}/runs\n"
        "A date whose listings never arrive holds the backfill until its sensor times out: open that run "
        "and use 'Mark Dag Run as... -> Failed' (Shift+F) to move on to the next date."
    )


def _run_cli_commands(commands: list[list[str]]) -> None:
    """In-process `airflow <command>` for each command, as the `airflow` entry point runs them."""
    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
    for command in commands:
        args = parser.parse_args(command)
        args.func(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.local_airflow", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("standalone", help="run Airflow on the local stack until Ctrl-C (make airflow)")
    run.add_argument("--home", type=Path, default=DEFAULT_HOME, help="AIRFLOW_HOME (default .airflow)")
    run.add_argument("--stack-env", type=Path, default=STACK_ENV_FILE, help="the stack's env file")
    run.add_argument("--host", default=DEFAULT_HOST, help="address the UI binds (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the UI (default 8080)")
    run.add_argument("--login", action="store_true", help="ask for a login (user admin) instead of none")
    fill = commands.add_parser("backfill", help="backfill vehicle_listings in the running Airflow")
    fill.add_argument("--home", type=Path, default=DEFAULT_HOME, help="AIRFLOW_HOME of `make airflow`")
    fill.add_argument("--from-date", type=dt.date.fromisoformat, required=True, help="first date, YYYY-MM-DD")
    fill.add_argument("--to-date", type=dt.date.fromisoformat, required=True, help="last date, YYYY-MM-DD")
    fill.add_argument(
        "--reprocess-behavior", default="failed", choices=["none", "failed", "completed"],
        help="dates that already have a run: run again only failed ones (default), none, or all",
    )  # fmt: skip
    cli = commands.add_parser("_cli", help=argparse.SUPPRESS)
    cli.add_argument("commands", type=json.loads)
    args = parser.parse_args(argv)

    if args.command == "standalone":
        try:
            return standalone(args.home.resolve(), args.stack_env.resolve(), args.host, args.port, args.login)
        except KeyboardInterrupt:  # during the preparation; later Ctrl-Cs are handled by run_until_stopped
            return 130
    if args.command == "backfill":
        backfill(args.home.resolve(), args.from_date, args.to_date, args.reprocess_behavior)
    else:
        _run_cli_commands(args.commands)
    return 0


if __name__ == "__main__":
    sys.exit(main())
