"""What a run would spend, and whether Clipping Magic's balance covers it.

The images planned for processing are those with no final record in their provider's index; each is
counted as billed (an image whose claim another run already paid for is counted too: an estimate may be
high, never low). Clipping Magic's document does not say whether the SVG and alpha-mask downloads share the
result's credit, so by default each extra output is counted as one more credit
(`clippingmagic_extra_outputs_cost_credits`); test-mode images are free.
"""

from __future__ import annotations

from include.pipeline.settings import PipelineSettings
from vehicle_photos.clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator


def estimate_credits(images_to_process: dict[str, int], settings: PipelineSettings) -> dict[str, int]:
    """Credits per provider for `images_to_process` ({provider: distinct images})."""
    per_clip = ClippingMagicAutoClipOperator.worst_case_credits_per_image(
        settings.clippingmagic_outputs, settings.clippingmagic_extra_outputs_cost_credits
    )
    clips = 0 if settings.clippingmagic_test_mode else images_to_process.get("clippingmagic", 0)
    return {"carcutter": images_to_process.get("carcutter", 0), "clippingmagic": clips * per_clip}
