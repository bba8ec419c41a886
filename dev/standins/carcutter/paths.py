"""Every Car-Cutter path the stand-in serves, in one place (docs/car-cutter-api.md).

The annotation paths are not published: they are guesses (`dev/standins/guesses.py`) after the feature
operations' pattern. The stand-in keeps its own table (it plays the service, and nothing shipped imports `dev/`);
`tests/standins/carcutter/test_paths.py` checks it against the client's `vehicle_photos.carcutter.utils.paths`.
"""

from dev.standins import guesses

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

ANNOTATION_SUBMIT = guesses.CC_ANNOTATION_SUBMIT_PATH
ANNOTATIONS_GET = guesses.CC_ANNOTATIONS_GET_PATH
ANNOTATION_GET = guesses.CC_ANNOTATION_GET_PATH
ANNOTATIONS_DELETE = guesses.CC_ANNOTATIONS_DELETE_PATH
ANNOTATION_DELETE = guesses.CC_ANNOTATION_DELETE_PATH
