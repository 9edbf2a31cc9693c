"""The custom resource protocol: the answer CloudFormation waits for at the ResponseURL.

CloudFormation hands the function a presigned S3 URL and waits (up to an hour) for one PUT
of a small JSON document saying SUCCESS or FAILED. A function that never answers leaves
the stack waiting, so every path of the handler ends here.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from convoship.core import constants as env

SUCCESS = "SUCCESS"
FAILED = "FAILED"
_MAX_REASON = 1000  # the whole answer must stay under CloudFormation's 4 KiB
_ATTEMPTS = 3


def response_body(
    event: dict[str, Any], status: str, reason: str, physical_id: str, data: dict[str, str]
) -> dict[str, Any]:
    return {
        "Status": status,
        "Reason": reason[:_MAX_REASON],
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data,
    }


def _check_url(url: str) -> None:
    """Deployed, CloudFormation's URLs are https. On a laptop or in tests the answer goes to
    loopback only: a sample event's S3 URL is never called from a developer's machine."""
    parts = urlsplit(url)
    if os.environ.get(env.STAGE, "production") in ("development", "test"):
        if parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost"):
            return
        raise ValueError("outside production, CloudFormation answers go to loopback only")
    if parts.scheme != "https":
        raise ValueError(f"refusing to answer CloudFormation at a {parts.scheme or 'bare'} URL")


def send(event: dict[str, Any], body: dict[str, Any]) -> None:
    """PUT body to the event's ResponseURL, retrying briefly; raises when it cannot."""
    url = event["ResponseURL"]
    _check_url(url)
    payload = json.dumps(body).encode()
    # The presigned URL signs an empty content type: send exactly that.
    headers = {"Content-Type": "", "Content-Length": str(len(payload))}
    for attempt in range(1, _ATTEMPTS + 1):  # S310 below: _check_url vetted scheme and host
        request = urllib.request.Request(url, data=payload, method="PUT", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                response.read()
            return
        except (urllib.error.URLError, OSError):
            if attempt == _ATTEMPTS:
                raise
            time.sleep(attempt)
