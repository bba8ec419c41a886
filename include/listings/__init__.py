"""Vehicle listings: the one documented schema (`schema`), reading CSV / JSON Lines / Parquet row by row
(`load`), rejected rows and file-level rejections (`rejections`), and validation with reasons (`validate`).
Import the submodules: loading pulls in pyarrow, which DAG files must not pay for at parse time."""
