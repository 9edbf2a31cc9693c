"""The container's AWS KMS client and one call shape: errors become domain errors.

boto3 is imported on first use only (deployments without KMS never pay for it); locally it
comes with `pip install -e '.[kms]'`.
"""

from __future__ import annotations

from typing import Any

from convoship.core.errors import ConfigurationError, DecryptionFailed, ServiceUnavailable

_client: Any = None
# Codes that mean "this blob is not for this key or context" rather than "KMS is down".
_REFUSALS = (
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "AccessDeniedException",
    "DisabledException",
    "KMSInvalidStateException",
    "NotFoundException",
)


def set_kms_client(client: Any) -> None:
    """Use this boto3 KMS client (tests pass one made inside moto's mock_aws)."""
    global _client
    _client = client


def kms_client() -> Any:
    global _client
    if _client is None:
        try:
            import boto3  # lazy: only deployments with KMS pay for boto3
        except ImportError as exc:
            raise ConfigurationError(
                "CONVOSHIP_KMS_KEY_ID is set but boto3 is missing: pip install -e '.[kms]'"
            ) from exc
        _client = boto3.client("kms")
    return _client


def kms_call(operation: str, **kwargs: Any) -> dict[str, Any]:
    """kms.<operation>(**kwargs); a refused blob is DecryptionFailed, an outage 503."""
    client = kms_client()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result: dict[str, Any] = getattr(client, operation)(**kwargs)
        return result
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _REFUSALS:
            raise DecryptionFailed("the key service refused this key or context") from exc
        raise ServiceUnavailable("the key service is unavailable") from exc
    except BotoCoreError as exc:
        raise ServiceUnavailable("the key service is unavailable") from exc
