"""`make bench`: throughput, API calls, S3 requests, XCom sizes, memory, CPU and credits of the pipelines against
the local stack (the README's "Benchmark" section has the methodology).

Workloads (generated ~2 MP photos in the local S3, in a versioned bucket unless `--unversioned`, stand-ins in
fast mode, a real Airflow: api-server, scheduler with LocalExecutor, dag-processor and triggerer):
1. Car-Cutter's asynchronous path through the `vehicle_listings` DAG at N = 120, 1,200 and 6,000 images
   (24 per vehicle), P = 2 s of processing per image, no concurrency cap;
2. the naive client of public example scripts (one image at a time, status every second) on the same
   stand-in, N = 120;
3. Clipping Magic auto-clip through the same DAG, N = 600, against a cap of 10 requests in flight and
   0.5 s per request;
4. the steady state (`bench/steady_state.py`): after workload 1 at N = 6,000, a control run of the 1 % new
   images alone, then a date listing N images of which 1 % are new.

`--quick` runs everything at its smallest (workload 1 and the steady state at N = 120, the naive client on 10
images, auto-clip on 48); `--scale` adds workload 1 and the steady state at N = 50,000; `--only` picks workloads
and `--profile` records py-spy samples of the chosen workloads' DAG runs. Prints Markdown tables and writes
`bench/results/<date>-<commit>.json` and `.png`, and for a full run `bench/results/latest.json` and
`docs/bench.png`. Photos are rendered once and cached in `bench/work/` (git-ignored), with each run's Airflow
home and the stack's logs.
"""
