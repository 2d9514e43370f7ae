"""The model card's own section: what no record of the loop knows."""

from __future__ import annotations

from pydantic import Field

from tasks.config._base import Strict


class CardConfig(Strict):
    """What the model card says of the model's use, which no record of the loop knows."""

    owner: str | None = Field(
        default=None, description="Who answers for the model (a team or a person)."
    )
    contact: str | None = Field(
        default=None, description="How to reach the owner (an e-mail address, a channel)."
    )
    intended_use: str | None = Field(
        default=None, description="What the model's predictions are for."
    )
    out_of_scope: str | None = Field(default=None, description="Uses the model is not meant for.")
    limitations: str | None = Field(
        default=None, description="Known limitations: data it never saw, groups it serves worse."
    )
