"""
### clippingmagic_review

Human touch-up of chosen images in ClippingMagic.js. Trigger it with the images to review (keys in `bucket`
or `s3://` URIs). It uploads them without Auto-Clip (free; unusable files are refused, listed in the XCom
`refused` of `upload_for_review`), waits in the triggerer until a person has saved an edit of every image in
the ClippingMagic.js editor, downloads the result, clipping path, alpha mask and the image JSON to
`s3://<bucket>/<prefix>/<image id>/r<revision>.*`, then deletes the images from the service (only the images
whose results were stored). Edits not saved within three days fail the run.
The editor needs each image's id and secret: the `upload_for_review` task returns the id and the
secret encrypted with Airflow's Fernet key (`clippingmagic.utils.editor_secret.decrypt_image_secret`); the
secret itself never appears in logs or XCom.

Uploads and downloads are recorded like every billable call: a rerun uploads no image that Clipping Magic
still has and never pays for the same revision twice.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from include.dag_defaults import task_defaults
from include.pools import CLIPPINGMAGIC_POOL
from vehicle_photos.clippingmagic.operators.delete import ClippingMagicDeleteOperator
from vehicle_photos.clippingmagic.operators.download import ClippingMagicDownloadOperator
from vehicle_photos.clippingmagic.operators.review import ClippingMagicUploadForReviewOperator
from vehicle_photos.clippingmagic.sensors.result import ClippingMagicResultSensor


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["vehicle-photos", "clippingmagic", "human-in-the-loop"],
    doc_md=__doc__,
    # the wait for people is deferred, not counted in the timeout
    default_args=task_defaults(2, pendulum.duration(minutes=1), execution_timeout=pendulum.duration(minutes=30)),
    params={
        "bucket": Param("vehicle-photos", type="string", description="Bucket of the images and the results"),
        "source_keys": Param([], type="array", description="S3 keys or s3:// URIs of the images to review"),
        "results_prefix": Param("processed/clippingmagic-review", type="string", description="Where results go"),
        "test": Param(False, type="boolean", description="Clipping Magic test images: free, watermarked"),
    },
)
def clippingmagic_review() -> None:
    uploaded = ClippingMagicUploadForReviewOperator(
        task_id="upload_for_review",
        images="{{ params.source_keys }}",
        dest_bucket="{{ params.bucket }}",
        test="{{ params.test }}",
        pool=CLIPPINGMAGIC_POOL,
        # a lost upload answer is asked about for the registration grace period before the upload is retried
        execution_timeout=pendulum.duration(hours=1),
    )
    edited = ClippingMagicResultSensor(
        task_id="wait_for_edits",
        image_ids=uploaded.output,
        poke_interval=30,
        timeout=pendulum.duration(days=3).total_seconds(),
    )
    downloaded = ClippingMagicDownloadOperator(
        task_id="download_results",
        image_ids=edited.output,
        dest_bucket="{{ params.bucket }}",
        dest_prefix="{{ params.results_prefix }}",
        records_bucket="{{ params.bucket }}",
        formats=["result", "clipping_path_svg", "alpha_mask_png", "json"],
        pool=CLIPPINGMAGIC_POOL,
    )
    ClippingMagicDeleteOperator(task_id="delete_from_service", image_ids=downloaded.output)


clippingmagic_review()
