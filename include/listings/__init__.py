"""Vehicle listings: the one documented schema (`schema`), loading CSV / JSON Lines / Parquet (`load`),
and validation with reasons (`validate`). Import the submodules: loading pulls in pandas, which DAG files
must not pay for at parse time."""
