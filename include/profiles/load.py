"""The profiles file in the bucket, resolved into one checked profile per dealer.

`s3://<bucket>/<profiles_key>` (default `config/profiles.yaml`) holds a `default` profile and per-dealer
overrides (`include.profiles.schema`). Each dealer's profile is its overrides on top of the default, validated
on its own: a dealer whose profile is invalid, or names an image that is not a usable PNG with alpha, has its
rows rejected with the reason and nothing billed for them; every other dealer goes on. Without the file, the
default profile is the run's settings (`cut_type`, `clippingmagic_angles`, `clippingmagic_outputs`), exactly
what a run did before profiles existed, so no record changes its options.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import yaml
from airflow.sdk.exceptions import AirflowFailException
from pydantic import ValidationError

from include.listings.validate import describe_validation_error
from include.pipeline.settings import PipelineSettings
from include.profiles.schema import Profile, ProfilesFile, merged
from vehicle_photos.carcutter.operators.process_images import CarCutterProcessImagesOperator
from vehicle_photos.clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator
from vehicle_photos.image_common.inspection import UnusableImageError
from vehicle_photos.image_common.policy import SourceNotAllowedError, SourcePolicy
from vehicle_photos.image_common.request_images import RequestImage, read_request_image
from vehicle_photos.image_common.s3_objects import error_code, get_if_exists
from vehicle_photos.image_common.sources import InvalidSourceError

MAX_PROFILES_FILE_BYTES = 1024 * 1024
DEFAULT_PROFILE = "default"  # how the default profile is named in messages, the manifest and the report
# Car-Cutter requires its overlay and plate inlay as PNG with an alpha channel; a background may be any image.
_IMAGE_CHECKS = {"carcutter.overlay": ("PNG", "RGBA"), "carcutter.license_plate": ("PNG", "RGBA")}


@dataclass(frozen=True)
class DealerProfile:
    """A dealer's validated profile (`dealer_id` None: the default) with its images checked."""

    dealer_id: str | None
    profile: Profile
    images: dict[str, RequestImage] = field(default_factory=dict)  # field path -> checked image

    @property
    def name(self) -> str:
        return self.dealer_id or DEFAULT_PROFILE

    def carcutter_record_options(self) -> dict[str, Any]:
        options = self.profile.carcutter
        return CarCutterProcessImagesOperator.record_options(
            cut_type=options.cut_type,
            guideline_id=options.guideline_id,
            location_id=options.location_id,
            retouching_accuracy=options.retouching_accuracy,
            scene_id=options.scene_id,
            overlay_sha256=self._digest("carcutter.overlay"),
            license_plate_sha256=self._digest("carcutter.license_plate"),
        )

    def clippingmagic_record_options(self, test: bool) -> dict[str, Any]:
        return ClippingMagicAutoClipOperator.record_options(test=test, outputs=self.profile.clippingmagic.outputs)

    def record_options(self, provider: str, settings: PipelineSettings) -> dict[str, Any]:
        if provider == "carcutter":
            return self.carcutter_record_options()
        return self.clippingmagic_record_options(settings.clippingmagic_test_mode)

    def carcutter_arguments(self) -> dict[str, Any]:
        """The Car-Cutter operator's per-batch arguments: a batch holds images of one set of options."""
        options = self.profile.carcutter
        arguments = {
            "cut_type": options.cut_type,
            "guideline_id": options.guideline_id,
            "location_id": options.location_id,
            "scene_id": options.scene_id,
            "retouching_accuracy": options.retouching_accuracy,
            "processing_speed": options.processing_speed,
            "custom_json": json.dumps(options.custom_json, sort_keys=True) if options.custom_json else None,
            "overlay": self._image("carcutter.overlay"),
            "license_plate": self._image("carcutter.license_plate"),
        }
        return {name: value for name, value in arguments.items() if value is not None}

    def vehicle_fields(self) -> dict[str, str]:
        """What the profile adds to the vehicle's Car-Cutter registration."""
        options = self.profile.carcutter
        wanted = {
            "vehicle_location": options.vehicle_location,
            "suggested_guideline_id": options.suggested_guideline_id,
        }
        return {name: value for name, value in wanted.items() if value}

    def clippingmagic_arguments(self) -> dict[str, Any]:
        return {"outputs": list(self.profile.clippingmagic.outputs)}

    def composite_arguments(self) -> dict[str, Any] | None:
        """The local composite of the Clipping Magic cut-outs (`pipeline.composites`); None: no composite."""
        composite = self.profile.clippingmagic.composite
        if composite is None:
            return None
        return {
            "composite": composite.model_dump(mode="json"),
            "background": self._image("clippingmagic.composite.background_image"),
        }

    def credits_per_image(self, provider: str, settings: PipelineSettings) -> int:
        if provider == "carcutter":
            return 1
        if settings.clippingmagic_test_mode:
            return 0
        return ClippingMagicAutoClipOperator.worst_case_credits_per_image(
            self.profile.clippingmagic.outputs, settings.clippingmagic_extra_outputs_cost_credits
        )

    def max_credits_per_run(self, settings: PipelineSettings) -> int:
        """0: no cap."""
        own = self.profile.max_credits_per_run
        return settings.max_credits_per_run if own is None else own

    def confirm_above_credits(self, settings: PipelineSettings) -> int:
        """0: a changed profile never waits for confirmation."""
        own = self.profile.confirm_above_credits
        return settings.confirm_above_credits if own is None else own

    @cached_property
    def batch_key(self) -> str:
        """Equal for profiles whose images may share a batch: the same request options for both APIs."""
        wanted = {
            "carcutter": self.carcutter_arguments(),
            "clippingmagic": self.clippingmagic_arguments(),
            "composite": self.composite_arguments(),
        }
        return json.dumps(wanted, sort_keys=True)

    @cached_property
    def digest(self) -> str:
        """What a change of the dealer's processing is judged by (the composite is local and costs nothing)."""
        from include.pipeline.vehicle_state import digest_of

        return digest_of(
            {
                "carcutter": self.carcutter_record_options(),
                "angles": self.profile.clippingmagic_angles,
                "clippingmagic": self.profile.clippingmagic.outputs,
            }
        )

    def _digest(self, path: str) -> str | None:
        image = self.images.get(path)
        return image.sha256 if image else None

    def _image(self, path: str) -> dict[str, str] | None:
        image = self.images.get(path)
        return image.to_dict() if image else None


@dataclass
class DealerProfiles:
    source: str  # where they came from: the file's URI, or "settings"
    profiles: dict[str | None, DealerProfile] = field(default_factory=dict)  # None: the default
    invalid: dict[str | None, str] = field(default_factory=dict)  # dealer -> why its rows are rejected
    _named_defaults: dict[str, DealerProfile] = field(default_factory=dict, repr=False)

    def of(self, dealer_id: str | None) -> DealerProfile | None:
        """The dealer's profile (the default's, under the dealer's name, for a dealer the file does not name);
        None when it is invalid."""
        if dealer_id in self.profiles or dealer_id in self.invalid:
            return self.profiles.get(dealer_id)
        default = self.profiles.get(None)
        if default is None or dealer_id is None:
            return default
        if dealer_id not in self._named_defaults:
            self._named_defaults[dealer_id] = dataclasses.replace(default, dealer_id=dealer_id)
        return self._named_defaults[dealer_id]

    def rejection_reason(self, dealer_id: str | None) -> str:
        key = dealer_id if dealer_id in self.invalid else None
        return self.invalid[key]


def load_profiles(s3_client: Any, settings: PipelineSettings, policy: SourcePolicy) -> DealerProfiles:
    """Every dealer's profile from the profiles file; the settings' default when there is no file."""
    base = {
        "clippingmagic_angles": list(settings.clippingmagic_angles),
        "carcutter": {"cut_type": settings.cut_type},
        "clippingmagic": {"outputs": list(settings.clippingmagic_outputs)},
    }
    uri = f"s3://{settings.bucket}/{settings.profiles_key}"
    document = _read_profiles_file(s3_client, settings.bucket, settings.profiles_key, uri)
    if document is None:
        return _resolved(s3_client, DealerProfiles("settings"), {None: base}, settings, policy)
    default = merged(base, document.default)
    wanted: dict[str | None, dict[str, Any]] = {None: default}
    wanted.update((dealer, merged(default, overrides or {})) for dealer, overrides in document.dealers.items())
    return _resolved(s3_client, DealerProfiles(uri), wanted, settings, policy)


def _read_profiles_file(s3_client: Any, bucket: str, key: str, uri: str) -> ProfilesFile | None:
    answer = get_if_exists(s3_client, bucket, key)
    if answer is None:
        return None
    if answer["ContentLength"] > MAX_PROFILES_FILE_BYTES:
        raise AirflowFailException(f"{uri} is over {MAX_PROFILES_FILE_BYTES:,} bytes; nothing was sent")
    try:
        loaded = yaml.safe_load(answer["Body"].read()) or {}
    except yaml.YAMLError as error:
        raise AirflowFailException(f"{uri} is not valid YAML ({error}); nothing was sent") from None
    try:
        return ProfilesFile.model_validate(loaded)
    except ValidationError as error:
        raise AirflowFailException(f"{uri}: {describe_validation_error(error)}; nothing was sent") from None


def _resolved(
    s3_client: Any,
    profiles: DealerProfiles,
    wanted: dict[str | None, dict[str, Any]],
    settings: PipelineSettings,
    policy: SourcePolicy,
) -> DealerProfiles:
    checked: dict[tuple, RequestImage | str] = {}  # (uri, checks) -> image, or why it cannot be used
    for dealer_id, values in wanted.items():
        name = dealer_id or DEFAULT_PROFILE
        try:
            profile = Profile.model_validate(values)
        except ValidationError as error:
            profiles.invalid[dealer_id] = f"profile {name} in {profiles.source}: {describe_validation_error(error)}"
            continue
        images, problems = {}, []
        for path, ref in profile.image_refs().items():
            if "://" in ref and not ref.startswith("s3://"):
                problems.append(f"{path}: {ref.split('://')[0]}:// is not allowed; give a key or an s3:// URI")
                continue
            uri = ref if ref.startswith("s3://") else f"s3://{settings.bucket}/{ref.lstrip('/')}"
            wanted_check = (uri, *_IMAGE_CHECKS.get(path, (None, None)))
            if wanted_check not in checked:
                checked[wanted_check] = _checked_image(s3_client, policy, *wanted_check)
            found = checked[wanted_check]
            if isinstance(found, str):
                problems.append(f"{path}: {found}")
            else:
                images[path] = found
        if problems:
            profiles.invalid[dealer_id] = f"profile {name} in {profiles.source}: {'; '.join(problems)}"
        else:
            profiles.profiles[dealer_id] = DealerProfile(dealer_id, profile, images)
    return profiles


def _checked_image(
    s3_client: Any, policy: SourcePolicy, uri: str, image_format: str | None, mode: str | None
) -> RequestImage | str:
    try:
        return read_request_image(s3_client, uri, policy, image_format, mode)[1]
    except (InvalidSourceError, SourceNotAllowedError, UnusableImageError) as error:
        return str(error)
    except s3_client.exceptions.ClientError as error:
        return f"{uri} cannot be read ({error_code(error) or 'error'})"
