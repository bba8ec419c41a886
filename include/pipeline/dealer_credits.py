"""What each dealer's images would cost this run, and what its profile lets the run spend.

An image counts once per record (provider, identity, options), however many vehicles or dealers list it, for
the first dealer that lists it. Two rules then leave images for later, never failing the run:
- **Budget**: `max_credits_per_run` (the profile's, else the deployment's; per API; 0: none). Past it, the
  dealer's remaining images are left for the next run (status `deferred`, with the reason).
- **Confirmation**: a dealer whose profile changed since its last run re-processes its images, on purpose. When
  that would spend more than `confirm_above_credits`, none of its images is sent until a run names the dealer
  in `confirm_dealers` (status `awaiting_confirmation`). A dealer seen for the first time is not held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from include.pipeline.planned_work import PROVIDERS, PlannedImage
from include.pipeline.settings import PipelineSettings
from include.profiles.load import DealerProfile
from vehicle_photos.image_common.records import options_digest
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.statuses import ResultStatus

PROFILE_ASPECT = "profile"  # the applied vehicle state's aspect under which a dealer's last profile is kept

WITHIN_BUDGET = "within budget"
BUDGET_REACHED = "budget reached"
HELD = "awaiting confirmation"
CONFIRMED = "changed profile confirmed"


@dataclass
class DealerCredits:
    dealer: str
    estimate: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROVIDERS, 0))  # before any rule
    planned: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROVIDERS, 0))  # what may be spent
    cap: int = 0
    state: str = WITHIN_BUDGET
    images_left: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CreditPlan:
    dealers: dict[str, DealerCredits] = field(default_factory=dict)
    left: dict[tuple[str, str, str], ImageResult] = field(default_factory=dict)  # image key -> why not sent
    applied_profiles: list[dict[str, str]] = field(default_factory=list)  # recorded once the run is published

    def totals(self, which: str = "planned") -> dict[str, int]:
        return {p: sum(getattr(d, which)[p] for d in self.dealers.values()) for p in PROVIDERS}


def plan_dealer_credits(
    images: Sequence[tuple[PlannedImage, str | None]],
    profile_of: Callable[[PlannedImage], DealerProfile],
    profiles_in_run: Iterable[DealerProfile],
    settings: PipelineSettings,
    applied: dict[tuple[str, str], str],
) -> CreditPlan:
    """`images`: those to process, in plan order, with their identity (None: only their content can tell);
    `profiles_in_run`: every dealer with a valid profile among the run's vehicles."""
    plan = CreditPlan()
    for profile in profiles_in_run:
        plan.dealers.setdefault(profile.name, DealerCredits(profile.name, cap=profile.max_credits_per_run(settings)))
    costs: list[tuple[PlannedImage, DealerProfile, int]] = []
    counted: set[tuple[str, str]] = set()
    for image, identity in images:
        profile = profile_of(image)
        options = profile.record_options(image.provider, settings)
        record = (image.provider, options_digest(identity or image.source, options))
        cost = 0 if record in counted else profile.credits_per_image(image.provider, settings)
        counted.add(record)
        costs.append((image, profile, cost))
        plan.dealers[profile.name].estimate[image.provider] += cost

    profiles = {profile.name: profile for profile in profiles_in_run}
    held = {name for name, profile in profiles.items() if _waits(plan.dealers[name], profile, settings, applied)}
    for image, profile, cost in costs:
        credits = plan.dealers[profile.name]
        if profile.name in held:
            credits.state = HELD
            plan.left[image.key] = _left(
                image, ResultStatus.AWAITING_CONFIRMATION, _held_reason(credits, profile, settings)
            )
        elif credits.cap and credits.planned[image.provider] + cost > credits.cap:
            credits.state = BUDGET_REACHED
            reason = (
                f"dealer {profile.name}: budget of {credits.cap} {image.provider} credits per run reached (this image "
                f"may cost {cost}); left for the next run"
            )
            plan.left[image.key] = _left(image, ResultStatus.DEFERRED, reason)
        else:
            credits.planned[image.provider] += cost
            continue
        credits.images_left += 1
    for name, profile in profiles.items():
        if name in held:
            continue
        credits = plan.dealers[name]
        if credits.state == WITHIN_BUDGET and _changed(profile, applied) and name in settings.confirm_dealers:
            credits.state = CONFIRMED
        plan.applied_profiles.append({"aspect": PROFILE_ASPECT, "vehicle_id": name, "digest": profile.digest})
    return plan


def _changed(profile: DealerProfile, applied: dict[tuple[str, str], str]) -> bool:
    """Since the dealer's last run; a dealer never seen before has not changed."""
    return applied.get((PROFILE_ASPECT, profile.name)) not in (None, profile.digest)


def _waits(
    credits: DealerCredits, profile: DealerProfile, settings: PipelineSettings, applied: dict[tuple[str, str], str]
) -> bool:
    """For confirmation: a changed profile that would spend more than the dealer's threshold, unconfirmed."""
    threshold = profile.confirm_above_credits(settings)
    over = threshold and sum(credits.estimate.values()) > threshold
    return bool(over and _changed(profile, applied) and profile.name not in settings.confirm_dealers)


def _held_reason(credits: DealerCredits, profile: DealerProfile, settings: PipelineSettings) -> str:
    return (
        f"dealer {credits.dealer}: its profile changed and would spend {sum(credits.estimate.values())} credits, "
        f"above confirm_above_credits {profile.confirm_above_credits(settings)}; run the date with "
        f"confirm_dealers [{credits.dealer}] to go ahead"
    )


def _left(image: PlannedImage, status: ResultStatus, reason: str) -> ImageResult:
    return ImageResult(image.provider, image.vehicle_id, image.name, image.shown_source, status, error=reason)


def dealer_credits_table(plan: CreditPlan) -> str:
    """One line per dealer: what it would spend, what it may spend this run, and why any image waits."""
    lines = [f"{'dealer':<24} {'estimate CC/CM':>15} {'this run CC/CM':>15} {'cap':>6}  state"]
    for name, credits in sorted(plan.dealers.items()):
        estimate = f"{credits.estimate['carcutter']}/{credits.estimate['clippingmagic']}"
        planned = f"{credits.planned['carcutter']}/{credits.planned['clippingmagic']}"
        left = f" ({credits.images_left} images left)" if credits.images_left else ""
        lines.append(f"{name:<24} {estimate:>15} {planned:>15} {credits.cap or '-':>6}  {credits.state}{left}")
    return "\n".join(lines)
