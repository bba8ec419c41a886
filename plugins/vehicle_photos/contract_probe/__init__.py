"""The contract probe: what the real Car-Cutter and Clipping Magic do where their documents are silent.

`python -m vehicle_photos.contract_probe` (`make probe`) measures, with the deployment's own connections and
hooks, each guess the project depends on (`dev/standins/guesses.py` names them), prints a table (guess, what we
assume, what the service did, verdict, the setting to change) and writes it as JSON and HTML under
`s3://<bucket>/probes/`. It spends no Clipping Magic credit (test mode) and at most one Car-Cutter credit, only
with `--spend-one-credit`; without it, the checks that need a submission are "not measured".
"""

from vehicle_photos.contract_probe.runner import ProbeOptions, run_probe

__all__ = ["ProbeOptions", "run_probe"]
