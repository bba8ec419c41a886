"""`ClippingMagicAccountOperator`: the Clipping Magic account checked before credits are spent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook

ON_LOW_CREDITS = ("fail", "warn")


class ClippingMagicAccountOperator(BaseOperator):
    """Reads the account (`subscriptionPlan`, `subscriptionState`, `credits`) and returns it.

    Below `min_credits` the task fails without retry (`on_low_credits="fail"`) or logs a warning (`"warn"`).
    """

    template_fields: Sequence[str] = ("min_credits", "on_low_credits")
    ui_color = "#c9e4f5"

    def __init__(
        self,
        *,
        min_credits: int | str = 0,
        on_low_credits: str = "fail",
        clippingmagic_conn_id: str = ClippingMagicHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_credits, self.on_low_credits = min_credits, on_low_credits
        self.clippingmagic_conn_id = clippingmagic_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        if self.on_low_credits not in ON_LOW_CREDITS:
            raise ValueError(f"on_low_credits must be one of {ON_LOW_CREDITS}, got {self.on_low_credits!r}")
        account = ClippingMagicHook(self.clippingmagic_conn_id).get_account()
        credits, minimum = int(account.get("credits") or 0), int(self.min_credits)
        self.log.info(
            "Clipping Magic account: plan %s (%s), %d credits",
            account.get("subscriptionPlan"),
            account.get("subscriptionState"),
            credits,
        )
        if credits < minimum:
            message = f"Clipping Magic has {credits} credits left, below the threshold of {minimum}"
            if self.on_low_credits == "fail":
                raise AirflowFailException(message)  # not transient: retrying cannot add credits
            self.log.warning(message)
        return account
