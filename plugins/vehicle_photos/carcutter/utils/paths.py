"""Every Car-Cutter API path the client calls, in one place (docs/car-cutter-api.md).

The annotation paths are not in Car-Cutter's published document; they follow the feature operations' pattern
(a guess, `dev/standins/guesses.py`). The stand-in serves its own table, which a test checks against this one.
"""

VEHICLE_SUBMIT = "/vehicle/submission"
VEHICLE_LIST = "/vehicle/list"
VEHICLE_STATUS = "/vehicle/status"
VEHICLE_DELETE = "/vehicle/delete"
VEHICLE_SHOTLIST = "/vehicle/shotlist"

SYNC_SINGLE_SEGMENT = "/vehicle/composition/single-segment"

ASYNC_SUBMIT = "/vehicle/image/submission"
ASYNC_STATUS = "/vehicle/image/status"
ASYNC_RESULT = "/vehicle/image/result"

FEATURE_SUBMIT = "/vehicle/feature/submission"
FEATURES_GET = "/vehicle/features"
FEATURE_GET = "/vehicle/feature"
FEATURES_DELETE = "/vehicle/features/delete"
FEATURE_DELETE = "/vehicle/feature/delete"

ANNOTATION_SUBMIT = "/vehicle/image/annotation/submission"
ANNOTATIONS_GET = "/vehicle/image/annotations"
ANNOTATION_GET = "/vehicle/image/annotation"
ANNOTATIONS_DELETE = "/vehicle/image/annotations/delete"
ANNOTATION_DELETE = "/vehicle/image/annotation/delete"

MAX_IMAGES_PER_SUBMISSION = 60

# "Get / delete all annotations of an image" name their one field `vehicle_id` while describing it as
# "ID of the image"; the client sends the image id under that documented name.
ANNOTATIONS_IMAGE_FIELD = "vehicle_id"
