"""`make bench`: throughput, API calls, memory, CPU and credits of the pipelines against the local stack.

Workloads (generated ~2 MP photos in the local S3, stand-ins in fast mode):
1. Car-Cutter's asynchronous path through the real `vehicle_listings` DAG, run by Airflow's own
   api-server, scheduler (LocalExecutor), dag-processor and triggerer, at N = 120, 1,200 and 6,000 images
   (24 per vehicle), P = 2 s of processing per image, no concurrency cap;
2. the naive client of public example scripts (one image at a time, status every second) on the same
   stand-in, N = 120;
3. Clipping Magic auto-clip through the same DAG, N = 600, against a cap of 10 requests in flight and
   0.5 s per request.

Prints a table, writes `bench/results/<date>-<commit>.json` and `.png`, and copies the plot to
`docs/bench.png`. `--quick` runs workload 1 at N = 120, the naive client on 10 images (it works one image
at a time, so its rate does not depend on N) and workload 3 on 48 images, in about two minutes.
Photos are rendered once and cached in `bench/work/` (git-ignored), with each run's Airflow home and logs.
"""
