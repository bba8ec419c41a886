"""Deterministic sample data: synthetic vehicle photos with ground-truth masks, and listing files.

`python -m dev.sampledata --seed 7 --vehicles 3 --images-per-vehicle 4 --megapixels 0.5 --out DIR`
writes, under DIR:

- `photos/<vehicle_id>/<n>_<angle>.jpg`: a synthetic vehicle (body, windows, wheels, lights) seen from an
  exterior angle (`front-left`, `side-left`, `rear-left`, `rear`, `rear-right`, `side-right`, `front-right`,
  `front`) on a studio gradient, a textured lot or a noise background; with 3+ images per vehicle the last
  one is an `interior` (cockpit filling the frame) or a `detail` (wheel close-up) shot.
- `masks/<vehicle_id>/<n>_<angle>.png`: the ground truth, mode L, 255 = vehicle (all 255 for interiors).
- `listings/vehicles.csv`, `vehicles.jsonl`, `vehicles.parquet`: vehicles dealt to the formats in turn, so
  the files together list every vehicle once.

The same arguments give byte-identical files.

Listing columns, one row per vehicle:

| column | value |
|---|---|
| `vehicle_id` | 17-character VIN (no I, O, Q) with a valid check digit |
| `make`, `model`, `colour` | strings (`colour` is a name such as `dark-blue`) |
| `listing_status` | `active` or `sold` |
| `images` | list of `{"ref", "angle", "provider"}` |
| `features` | list of `{"title", "description", "icon", "type"}` (`type` is `text`, `doc` or `href`) |
| `hotspots` | list of `{"image", "x", "y", "location", "feature"}` |

`images`, `features` and `hotspots` are compact JSON text in CSV and native lists in JSON Lines and
Parquet (list of struct; every key is always present, null when unset). Image `ref` takes turns between
`s3://<bucket>/photos/...jpg`, the bare key `photos/...jpg` and `<http base>/photos/...jpg` (default
`http://127.0.0.1:5000/<bucket>`, moto's path-style URL); `provider` is `clippingmagic` for interior and
detail shots, else null. Hotspot `image` is a 0-based index into `images`, `x`/`y` are pixel coordinates
of the car part named by `location`, `feature` is the title of one of the vehicle's features or null.

`--inject-bad-rows` appends four invalid rows: a missing vehicle id, an `ftp://` image, a bad VIN and a
repeat of the first vehicle (a duplicate).
"""

from dev.sampledata.generator import SampleData, generate, upload

__all__ = ["SampleData", "generate", "upload"]
