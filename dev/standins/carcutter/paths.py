"""Every Car-Cutter path the stand-in serves, in one place.

The annotation paths are not published (car-cutter-api-facts.md): they follow the feature operations' pattern
and the client keeps an identical copy in `plugins/carcutter/hooks/paths.py`.
"""

VEHICLE_SUBMIT = "/vehicle/submission"
VEHICLE_LIST = "/vehicle/list"
VEHICLE_STATUS = "/vehicle/status"
VEHICLE_DELETE = "/vehicle/delete"
VEHICLE_SHOTLIST = "/vehicle/shotlist"

SYNC_SUBMIT = "/vehicle/composition/single-segment"

ASYNC_SUBMIT = "/vehicle/image/submission"
ASYNC_STATUS = "/vehicle/image/status"
ASYNC_RESULT = "/vehicle/image/result"

FEATURE_SUBMIT = "/vehicle/feature/submission"
FEATURES_GET = "/vehicle/features"
FEATURE_GET = "/vehicle/feature"
FEATURES_DELETE = "/vehicle/features/delete"
FEATURE_DELETE = "/vehicle/feature/delete"

# Not published: guessed after the feature operations.
ANNOTATION_SUBMIT = "/vehicle/image/annotation/submission"
ANNOTATIONS_GET = "/vehicle/image/annotations"
ANNOTATION_GET = "/vehicle/image/annotation"
ANNOTATIONS_DELETE = "/vehicle/image/annotations/delete"
ANNOTATION_DELETE = "/vehicle/image/annotation/delete"
