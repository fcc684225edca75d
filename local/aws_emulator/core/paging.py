"""List operations' pages, with moto's `Paginator` (`moto.utilities.paginator`): a page of `MaxResults`
items and a `NextToken` naming the first item of the next page by its unique attributes, bound to the
request's other parameters (a token sent with other filters is refused, as AWS refuses a token it did not
issue for that request). Each service keeps only its own rules: its limits and its error for a bad token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from moto.core.exceptions import InvalidToken
from moto.utilities.paginator import Paginator

from local.aws_emulator.core.exceptions import EmulatorError

Item = TypeVar("Item")
PAGING_PARAMETERS = ("NextToken", "MaxResults")


def page(
    items: Sequence[Item],
    params: Mapping[str, Any],
    *,
    unique: str | list[str],
    default_limit: int,
    invalid_token: Callable[[], EmulatorError],
) -> tuple[list[Item], str | None]:
    """The page of `items` the request asks for, and the token to the next page (None on the last)."""
    filters = {name: value for name, value in params.items() if name not in PAGING_PARAMETERS}
    try:
        paginator = Paginator(
            max_results=params.get("MaxResults"),
            max_results_default=default_limit,
            starting_token=params.get("NextToken"),
            unique_attribute=unique,
            param_values_to_check=filters,
        )
        chunk, token = paginator.paginate(list(items))
    except InvalidToken as error:
        raise invalid_token() from error
    return chunk, token
