"""Reading the config's {secret: name} references from Prefect Secret blocks, at run time."""

from __future__ import annotations

from typing import Any, cast

from prefect.blocks.system import Secret

from tasks.orchestration.retries import call_api
from tasks.secrets import SecretBlockError


def read_secret_block(name: str) -> str:
    """The text stored in the Prefect Secret block `name`, from the server the run talks to."""
    try:
        # _sync: Prefect's load is async inside an event loop; a flow's steps want the value.
        block = cast(
            Secret[Any],
            call_api(
                f"reading the Prefect Secret block {name}",
                lambda: Secret.load(name, _sync=True),  # type: ignore[call-arg]
                idempotent=True,
            ),
        )
    except ValueError as error:
        if "Unable to find block document" not in str(error):
            raise
        raise SecretBlockError(
            f"Prefect Secret block '{name}' does not exist on the Prefect server this run uses"
        ) from None
    value = block.value.get_secret_value()
    if not isinstance(value, str):
        raise SecretBlockError(
            f"Prefect Secret block '{name}' holds {type(value).__name__}, not text: save the "
            "value as a string"
        )
    return value
