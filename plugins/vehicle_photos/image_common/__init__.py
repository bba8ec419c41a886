"""What both API packages share about images: where they come from and whether we may fetch them, how they
are identified across runs, whether they are usable before anything is billed, the durable record that keeps
an image from being billed twice, and the per-image result row every operator and the manifest use.

| module | job |
|---|---|
| `urls` | redacting URLs for people, an API connection's base URL (plain http only to loopback) |
| `sources` | `ImageSource` (an `s3://` object or an http(s) URL) and `ImageItem` (a source for a vehicle) |
| `policy` | `SourcePolicy`: allowed buckets and networks, byte / pixel / time limits |
| `fetch` | bounded, SSRF-safe http(s) and S3 reads |
| `identity` | stable image identities from S3 listings and http validators |
| `inspection` | refusing unusable images (not an image, empty, truncated, too many pixels) before billing |
| `records` | `ImageRecord`: the durable claim / record of one image under one set of options |
| `record_store` | records in S3 with conditional writes (claim = create-if-absent) |
| `record_index` | a compact per-provider index of finished records, read in bulk |
| `sealed` | exact submitted URLs kept encrypted with Airflow's Fernet key |
| `results` | `ImageResult`: one image's outcome in a run, as operators return it and the manifest reads it |
| `items` | operator inputs and outputs given inline or as `s3://` JSON documents |
"""
