"""What the sync and the async client share: the URL, the headers, reading an answer."""

from __future__ import annotations

from typing import Any

import httpx

from online_learning_client._calls import API, MAX_BATCH, Call
from online_learning_client._retry import RetryPolicy
from online_learning_client.errors import error_for_status
from online_learning_client.keys import api_key_from_env

USER_AGENT = "online-learning-sdk/0.1"
DEFAULT_URL = "http://127.0.0.1:8000"


def normalise_url(base_url: str) -> str:
    """``http://host:port`` (a trailing ``/`` or ``/api/v1`` is dropped)."""
    url = base_url.rstrip("/")
    if url.endswith(API):
        url = url[: -len(API)]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    return url


class ClientBase:
    """Settings of a client; the key is kept out of ``repr`` and out of every URL."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be in [1, {MAX_BATCH}], got {max_batch!r}")
        self.base_url = normalise_url(base_url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.max_batch = max_batch
        self._api_key = api_key if api_key is not None else api_key_from_env()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    @property
    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers


def read(response: httpx.Response, call: Call) -> Any:
    """The parsed answer of a successful response; the mapped exception otherwise."""
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        raise error_for_status(response.status_code, body, response.text)
    if response.status_code == 204 or not response.content:
        return call.parse(None)
    return call.parse(response.json())
