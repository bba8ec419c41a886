"""Every choice the stand-ins make where the published API documents are silent.

The servers read these constants; nothing else in `dev/standins/` invents behaviour. When the real
service is found to behave differently, change it here (and in the README's list of guesses).
Documented facts are NOT repeated here: they live in the server code, next to the rule they implement.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------------------
# Both stand-ins
# ---------------------------------------------------------------------------------------------------------

#: Starting credits when `--credits` is not given (large enough for the 6,000-image benchmark).
DEFAULT_CREDITS = 100_000

#: Status of an injected server error (`--error-5xx-ratio`). Car-Cutter documents only 500.
INJECTED_SERVER_ERROR_STATUS = 500

#: Neither service publishes rate-limit headers; the stand-ins' 429 carries a Retry-After of this many seconds,
#: which a client may ignore (Clipping Magic documents its own linear back-off instead).
RETRY_AFTER_SECONDS = 5

#: `--strict-accept`: neither document says what happens when a request's Accept header does not admit the file
#: a call returns. With the knob on, the stand-ins answer 406 in the API's error body with this message, decided
#: before anything is processed, stored or charged (an Accept header the service ignores is the default).
NOT_ACCEPTABLE_MESSAGE = "Not acceptable: this call answers {media_type}."

# ---------------------------------------------------------------------------------------------------------
# Clipping Magic
# ---------------------------------------------------------------------------------------------------------

#: Only code 1006 ("Failed to read the supplied image.") is documented. The other internal codes are invented;
#: clients must rely on the HTTP status, never on these numbers.
CM_CODE_IMAGE_UNREADABLE = 1006  # documented
CM_CODE_BAD_PARAMETER = 1000
CM_CODE_UNAUTHORIZED = 1001
CM_CODE_IMAGE_TOO_LARGE = 1007
CM_CODE_NOT_FOUND = 1010
CM_CODE_NO_RESULT = 1020
CM_CODE_CREDITS_EXHAUSTED = 1030
CM_CODE_RATE_LIMITED = 1429
CM_CODE_NOT_ACCEPTABLE = 1406
CM_CODE_SERVER_ERROR = 1500

#: HTTP statuses for failures whose status the document leaves open.
CM_STATUS_NOT_FOUND = 404  # unknown or deleted image id
CM_STATUS_NO_RESULT = 400  # "If there is no result available, then you will get an error response."
CM_STATUS_CREDITS_EXHAUSTED = 402
CM_STATUS_IMAGE_TOO_LARGE = 400

#: Image ids are consecutive integers starting here (the documented example id). They keep increasing across
#: `/_emulator/reset`, so an id recorded before a reset never names a different image afterwards.
CM_FIRST_IMAGE_ID = 2345

#: A new resultRevision (after a human edit) is a new result: its first production download costs one credit
#: again. Every format of one revision (result, clipping_path_svg, alpha_mask_png, also as the upload's
#: `format=`) shares that single charge.
CM_CHARGE_EACH_NEW_REVISION = True

#: An upload with a result format (`format=result|clipping_path_svg|alpha_mask_png`) of a production image
#: when no credits are left is refused with the credits error before anything is stored, so no image id is
#: created that the client cannot learn.
CM_REFUSE_PAID_UPLOAD_WITHOUT_CREDITS = True

#: Result file names in Content-Disposition: `<original stem>_clipped_rev<revision>.<ext>`, ext being `png`
#: (transparent result), `jpeg` (opaque result), `svg` (clipping path) or `png` with `_mask` (alpha mask).
CM_RESULT_NAME = "{stem}_clipped_rev{revision}{suffix}.{ext}"

#: The account endpoint's answer while credits are configured (the stand-in account is always subscribed).
CM_SUBSCRIPTION_PLAN = "standin"
CM_SUBSCRIPTION_STATE = "active"

#: The list is ordered by ascending image id (as in the documented example); out-of-range limit / offset are
#: clamped to 1..100 / >= 0 and the used values echoed; a non-integer limit or offset is a 400.
CM_LIST_MAX_LIMIT = 100
CM_LIST_DEFAULT_LIMIT = 20

#: The documented auto-clip result is transparent (PNG). A simulated human edit may ask for an opaque background
#: colour, which yields a JPEG result, so both documented file kinds can be exercised.
CM_DEFAULT_EDIT_BACKGROUND = None

#: Downloads redirect with 302 (the document allows any of 301-303).
CM_DOWNLOAD_REDIRECT_STATUS = 302

#: The upload's `test` field accepts exactly these spellings (the document only shows `true`); anything else is a 400.
CM_TEST_WORDS = ("true", "false")

#: Storage redirect targets (Amazon S3 in reality) are served by the stand-in itself under this prefix, need no
#: credentials (an unguessable token stands in for the S3 signature); they expire and refuse credentials (see
#: "First contact" below). The documented rate limit
#: is the API's, so storage fetches are exempt from `--concurrency-cap`, `--latency-ms` and injected faults (they are
#: still counted in `/_emulator/requests` as `storage`).
CM_STORAGE_PREFIX = "/_storage"

#: A storage link that names nothing (image deleted, link from before a reset) answers 404 with this plain text.
CM_STORAGE_NOT_FOUND = "NoSuchKey: The specified key does not exist."

#: With `--strict-accept`, a storage fetch whose Accept header refuses the file answers 406 with this plain-text
#: body (storage is S3, not the API, so no Error JSON Object).
CM_STORAGE_NOT_ACCEPTABLE = "NotAcceptable: the stored object is {media_type}."

#: The list endpoint's order is by ascending image id (the documented example), so the newest uploads are on its
#: last page; `--list-order descending` gives the other plausible answer (newest first). Ids only grow, so an
#: upload made after an image was listed has a higher id than that image.
CM_LIST_ORDER = "ascending"

# Clipping Magic, late and lost (dev/standins/clippingmagic/lag.py). The documents say nothing of timing; each of
# these is a knob defaulting to the prompt answer, and the billing tests turn them on:
#: `--list-delay SECONDS`: a new upload appears in the list endpoint only after this (an index refreshed
#: asynchronously); its id answers `GET /images/<id>` at once.
#: `--lost-upload-answers N`: the next N uploads are processed and billed, then the connection is closed without
#: an answer (a proxy or network failure after the work).
#: `--upload-hold-seconds S`: an upload is processed only S seconds after it arrived (a queue), so a client whose
#: timeout is shorter gives up on an upload that is later stored and billed.
#: `--preloaded-images N`: the account already holds N older images (a dealer group after a year), listed in
#: id order before later uploads, named like this; they are listed only.
CM_PRELOADED_NAME = "stock-{id}.jpg"

#: `--storage-bad-body html|empty`: the result storage answers 200 with an HTML error page (a captive portal or a
#: proxy) or an empty body instead of the result file. Its body:
CM_STORAGE_HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"

# ---------------------------------------------------------------------------------------------------------
# Car-Cutter
# ---------------------------------------------------------------------------------------------------------

#: Cut type used when an async submission gives none ("read from the user configuration").
CC_DEFAULT_CUT_TYPE = "complete"

#: `processing_speed=lazy` takes this many times `--processing-seconds`.
CC_LAZY_SPEED_FACTOR = 2.0

#: An image's processing time is split evenly over these phases after its download finished; `ready` comes
#: with status `final`. Phase `downloading` lasts as long as the real fetch of `image_url` takes.
CC_WORK_PHASES = ("analyzing", "cutting", "qa-ing", "retouching")

#: An image that fails reports status `error` in the phase where it failed: `downloading` (unreachable, HTTP
#: error, more than `--max-image-bytes`, past the fetch deadline) or `analyzing` (empty, not an image, truncated,
#: more than `CC_MAX_IMAGE_PIXELS`, more than one vehicle). `quality` stays null until the image is final. The
#: ImageStatus has no field for the reason; the stand-in tells it at `GET /_emulator/errors` only.
CC_FETCH_ERROR_PHASE = "downloading"
CC_DECODE_ERROR_PHASE = "analyzing"

#: A URL never submitted is reported by the status endpoint with status and phase `unknown` (both documented
#: values) rather than failing the whole status call. `--unknown-url-status 404` switches to the other reading of
#: the documents (404 "no such image" for the whole call).
CC_UNKNOWN_STATUS = "unknown"

#: Values no document lists, reported under `--unknown-quality-ratio` / `--unknown-phase-ratio` (the document
#: warns that more values may be added). Which images get them is fixed by seed + URL without its query.
CC_UNDOCUMENTED_QUALITY = "blurry"
CC_UNDOCUMENTED_PHASE = "upscaling"

#: Billing: one credit per image_url at the moment the async submission is accepted (the ledger key is the
#: url). A url repeated within one request is processed and billed once. If the credits left cannot cover
#: every url of a request, the whole request is refused with 402 and nothing is billed. Images that end in
#: `error` (unreachable, undecodable) are not refunded.
CC_BILL_AT_SUBMISSION = True

#: Sync single-segment costs one credit once the image is processed (ledger key: the image_url exactly as sent,
#: the same key as an async submission of that URL, or `upload:sha256:<hex of the uploaded bytes>`);
#: `cut_type=none` returns `{}` and is free. An image that cannot be fetched or processed answers 400 or 413 and
#: is not billed. `--sync-error-after-processing-ratio` answers 500 after the charge.
CC_SYNC_NONE_IS_FREE = True

#: `/vehicle/image/result` while the image is still processing, or ended in `error`: 404 like an unknown url.
CC_RESULT_NOT_READY_STATUS = 404

#: 413 "too many vehicles": answered by sync single-segment when the segmentation finds more than one vehicle,
#: i.e. a second separate part of the mask at least this share of the largest part's area (never in fast mode).
#: An async image with more than one vehicle ends in status `error`, phase `analyzing`.
CC_SECOND_VEHICLE_SHARE = 0.5

#: Results expire this long after they became final when `--result-expiry-seconds` is not given.
CC_DEFAULT_RESULT_EXPIRY_SECONDS = 86_400

#: Fetching image_url: total deadline per image (connect, headers and body), largest accepted body, and how many
#: fetches run at once.
CC_FETCH_TIMEOUT_SECONDS = 20.0
CC_MAX_IMAGE_BYTES = 25 * 1024 * 1024
CC_FETCH_CONCURRENCY = 32

#: Largest image (width x height, read from the header before decoding) Car-Cutter processes: async images above
#: it end in `error` (phase `analyzing`, billed at submission like every image); sync answers 400, as it does for
#: an uploaded background / license plate / overlay above it or a `resolution` asking for more.
CC_MAX_IMAGE_PIXELS = 50_000_000

#: Angle: taken from the url's path when it names one of these views (the sample data does), else chosen
#: from them by a hash of seed + url path (query string ignored: presigned URLs change on every signing).
CC_EXTERIOR_ANGLES = (
    "front",
    "front-left",
    "front-right",
    "side-left",
    "side-right",
    "rear",
    "rear-left",
    "rear-right",
)
CC_OTHER_ANGLES = ("interior", "detail")

#: Share of images whose quality is `retake` (deterministic from seed + url path); the rest are `ok`.
CC_RETAKE_RATIO = 0.1

#: Webhook: when every image of a submission is final or error, the stand-in POSTs
#: `{"data": {"images": [ImageStatus, ...]}}` (the ImageStatusResponse of that submission) as JSON to its
#: `webhook_url`, trying this many times, this many seconds apart.
CC_WEBHOOK_ATTEMPTS = 3
CC_WEBHOOK_RETRY_SECONDS = 1.0

#: Vehicles: `active` once an async submission names the vehicle_id; `/vehicle/list` includes deleted
#: vehicles (filter on `app_status` to drop them), sorts by last update DESC by default, no limit by default.
CC_VEHICLE_LIST_DEFAULT_DIRECTION = "DESC"

#: The five image feature annotation operations are listed without paths; they follow the feature operations'
#: pattern. `dev/standins/carcutter/paths.py` serves them; the client keeps an identical copy.
CC_ANNOTATION_SUBMIT_PATH = "/vehicle/image/annotation/submission"
CC_ANNOTATIONS_GET_PATH = "/vehicle/image/annotations"
CC_ANNOTATION_GET_PATH = "/vehicle/image/annotation"
CC_ANNOTATIONS_DELETE_PATH = "/vehicle/image/annotations/delete"
CC_ANNOTATION_DELETE_PATH = "/vehicle/image/annotation/delete"

#: Features and annotations need no registered vehicle / image; ids are `ft_<hex>` and `an_<hex>`; deletes
#: answer the deleted ids (strings).
CC_FEATURE_ID_PREFIX = "ft_"
CC_ANNOTATION_ID_PREFIX = "an_"

#: "Get an annotation" is documented with a `features` key; the stand-in answers the annotation under both
#: `features` and `annotations`.
CC_ANNOTATION_GET_KEYS = ("features", "annotations")

#: Sync names its image either as an upload or as a URL ("either this or image_url"): a request with both, or
#: neither, is a 400 with this message.
CC_SYNC_ONE_SOURCE = "exactly one of 'image' or 'image_url' is required"

#: Unknown vehicle, feature or annotation ids answer 404 (documented for images only) with these messages.
CC_NO_SUCH_VEHICLE = "no such vehicle"
CC_NO_SUCH_FEATURE = "no such feature"
CC_NO_SUCH_ANNOTATION = "no such annotation"

#: Sync `resolution` must be `<w>x<h>` with both sides in this range.
CC_RESOLUTION_RANGE = (1, 10_000)

#: Form booleans accept these spellings (case-insensitive); anything else is a 400.
CC_TRUE_WORDS = ("true", "1", "yes")
CC_FALSE_WORDS = ("false", "0", "no")

#: Sync answers the base64 text with this content type.
CC_SYNC_CONTENT_TYPE = "text/plain"

#: Result images are JPEG of this quality.
CC_JPEG_QUALITY = 90

#: HTML body of a 401 when the `--html-401` knob is on (seen in practice in front of the real API).
CC_HTML_401 = (
    "<html><head><title>401 Authorization Required</title></head>"
    "<body><h1>401 Authorization Required</h1></body></html>"
)

# ---------------------------------------------------------------------------------------------------------
# First contact: where the documents are silent about how strict the services are, the stand-ins are strict
# (each knob named here gives the other plausible answer; the contract probe, `make probe` in
# plugins/vehicle_photos/contract_probe/, tells which one the real service gives). Knobs:
# dev/standins/carcutter/contract.py, dev/standins/clippingmagic/contract.py, common/error_bodies.py.
# ---------------------------------------------------------------------------------------------------------

#: `--error-body html|text|empty` (default `json`, the documented body): what a proxy in front of either API
#: answers instead. The HTML page repeats the request target (signatures included) and is labelled UTF-8 while
#: written in Latin-1; the text names the target too; `empty` has no body and no content type.
ERROR_BODY_HTML = (
    "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1>"
    '<p>The proxy could not serve <a href="{target}">{target}</a>.</p><p>Réessayez plus tard.</p></body></html>'
)
ERROR_BODY_TEXT = "{status} {reason}: upstream refused GET {target}\n"

#: Car-Cutter fields travel only where the documents put them: multipart bodies for the operations documented
#: as multipart (a urlencoded or JSON body is a 400), the query for vehicle status / delete and the async
#: status / result, and multipart form fields on the feature and annotation GETs and DELETEs. A field sent
#: anywhere else (a query parameter on a multipart operation, a form field on a query operation) is a 400 that
#: names it: the real service probably ignores it, which would lose it silently, so the stand-in refuses it.
CC_FIELDS_ELSEWHERE_MESSAGE = "'{name}' is not accepted in the {place} of this operation"
CC_MULTIPART_REQUIRED_MESSAGE = "the request body must be multipart/form-data"
CC_NO_BODY_MESSAGE = "this operation takes its fields in the query, not in a request body"

#: `--feature-params-in query` (default `form`, as documented): the feature and annotation GETs / DELETEs read
#: their field from the query and refuse it in a body (many HTTP stacks drop GET bodies); `query-ignoring-body`
#: reads the query too but ignores a body silently, answering the empty list of "no such vehicle / feature"
#: (the dangerous reading: a client sending form fields sees nothing and thinks nothing exists).
CC_FEATURE_PARAMS_IN = ("form", "query", "query-ignoring-body")

#: `--webhooks-enabled` (default off): "if your account has a webhook target enabled" is an account setting, so
#: by default a `webhook_url` is accepted and never called.
CC_WEBHOOKS_ENABLED = False

#: `--status-url-echo normalised` (default `exact`: the document says `image` is "the image URL as submitted"):
#: the status and submission answers echo each URL normalised (host in lower case, the query's parameters
#: sorted, every value decoded and encoded again with only "/:" left as they are), as frameworks that parse
#: and re-serialise URLs do. Images are still found by the URL exactly as submitted.
CC_STATUS_URL_ECHO = ("exact", "normalised")

#: `--max-request-target N` (default 8190 bytes, Apache's request line limit; 0 = none): a request whose path
#: and query are longer is answered 414 before anything is done. Car-Cutter publishes no limit.
CC_MAX_REQUEST_TARGET = 8190

#: The document promises the result image from a 200 result download. Behind a CDN or a proxy a 200 may carry
#: an HTML page (a login wall, a maintenance page) or nothing at all. `--result-body` gives those answers; the
#: image (the documented answer) is the default, since every other download test needs it. The synchronous call
#: then answers, billed, the page's base64 or an empty body.
CC_RESULT_BODIES = ("image", "html", "empty")
CC_RESULT_HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"
CC_URI_TOO_LONG_MESSAGE = "Request-URI Too Long"

#: Clipping Magic upload fields other than the documented `image`, `test` and `format`, and query parameters
#: other than the documented ones (`format` on download, `limit` / `offset` on list, none elsewhere), are a 400
#: naming them unless `--no-strict-fields` (the real service may ignore them, or know more fields).
CM_UNKNOWN_FIELD_MESSAGE = "Unknown parameter '{name}'."

#: Storage links (the download's redirect targets, presigned S3 URLs in reality) expire this long after the
#: redirect (`--storage-link-seconds`); an expired link answers 403 with S3's XML error. A storage request that
#: carries an Authorization header is refused with 400 as S3 refuses a presigned URL with a second auth mechanism
#: (`--no-storage-refuses-credentials` to accept it).
CM_STORAGE_LINK_SECONDS = 60.0
CM_STORAGE_EXPIRED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired'
    "</Message></Error>"
)
CM_STORAGE_TWO_AUTH_MECHANISMS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code><Message>Only one auth '
    "mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the "
    "Authorization header should be specified</Message></Error>"
)

# ---------------------------------------------------------------------------------------------------------
# A service that lags (issue 18): the documents say nothing about how soon a submission is known, whether an
# answer can be lost after the work was billed, or what a 402 leaves billed. The stand-in's defaults are the
# prompt answers; the billing tests turn on the least friendly ones. Knobs: dev/standins/carcutter/timing.py.
# ---------------------------------------------------------------------------------------------------------

#: `--registration-delay-seconds`: a submitted URL may stay `unknown` to the status endpoint for a while (the
#: service queues submissions before it files them). Default 0: known as soon as the submission is answered.
CC_REGISTRATION_DELAY_SECONDS = 0.0

#: `--lost-answers N` / `--lost-answers-of` / `--lost-answer-as`: a submission may be processed and billed and
#: its answer still never reach the client: the connection drops (dropped), or a front proxy answers 502.
CC_LOST_ANSWER_FORMS = ("dropped", "502")

#: `--hold-submission-seconds`: a submission may wait in the service's queue before it is processed and billed,
#: long enough for the client's read timeout to fire first (then it is billed with nobody hearing of it).
CC_HOLD_SUBMISSION_SECONDS = 0.0

#: `--short-credits`: a submission of more URLs than the credits left cover is refused whole with 402 and
#: nothing billed (refuse-all, the default); or the service processes and bills the first URLs as far as the
#: credits go, then answers 402 for the request (bill-what-fits: the least friendly reading, a 402 that billed).
CC_SHORT_CREDITS = ("refuse-all", "bill-what-fits")

# --- Dealer profiles: scenes and the account's ids --------------------------------------------------------------

#: The document names `scene_id` ("the background scene") but publishes no catalogue: the stand-in knows these
#: scenes and paints the `complete` cut's backdrop in their colour. An unknown `scene_id` is a 400 while
#: `--account-scene-ids` lists the account's scenes (by default these), so a typo in a profile fails in tests.
CC_SCENES = {"studio-white": (246, 246, 244), "showroom-grey": (128, 131, 136), "night-blue": (22, 32, 72)}
#: `--account-guideline-ids` / `--account-location-ids`: comma lists of the ids the account has; empty (the
#: default, as for an account that lists none) accepts any id. `--account-scene-ids ""` accepts any scene (an
#: unknown one keeps the studio backdrop).
CC_UNKNOWN_ID_MESSAGE = "Unknown {field} '{value}'."
