"""API key authentication: `Authorization: Bearer <key>`.

A key belongs to one workspace and carries a role there. `request.user`
becomes an `ApiKeyUser` (not a Django user: a key is not a person and has no
row in auth_user) and `request.auth` the `ApiKey`.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from builder.models import ApiKey, hash_api_key

from . import key_throttle

KEYWORD = "Bearer"
# last_used_at is informative; writing it on every request would turn every
# read into a write, so it moves at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
INVALID_KEY = "invalid or revoked API key"

# Keys found, per process, for API_KEY_CACHE_SECONDS: looking the key up was
# a third of a single event's request (bench/RESULTS.md). A key revoked (or
# given another role) in the admin stops working as it was in every process
# within that time, and at once in the process that changed it. Unknown keys
# are never cached: each wrong guess costs a lookup.
_found: dict[str, tuple[float, ApiKey]] = {}
CACHE_MAX_KEYS = 10_000


def cached_key(raw: str) -> ApiKey | None:
    """The key this process found within API_KEY_CACHE_SECONDS, without a query; else None."""
    hit = _found.get(hash_api_key(raw))
    if hit is not None and time.monotonic() - hit[0] < settings.API_KEY_CACHE_SECONDS:
        return hit[1]
    return None


def find_key(raw: str) -> ApiKey | None:
    cached = cached_key(raw)
    if cached is not None:
        return cached
    key_hash = hash_api_key(raw)
    ttl = settings.API_KEY_CACHE_SECONDS
    key = (
        ApiKey.objects.select_related("workspace")
        .filter(key_hash=key_hash, revoked_at__isnull=True)
        .first()
    )
    if key is None:
        _found.pop(key_hash, None)
    elif ttl > 0:
        if len(_found) >= CACHE_MAX_KEYS:
            _found.clear()
        _found[key_hash] = (time.monotonic(), key)
    return key


def forget_keys(key_hashes) -> None:
    """This process stops trusting these keys' cached rows (revoked, role changed)."""
    for key_hash in key_hashes:
        _found.pop(key_hash, None)


class ApiKeyUser:
    """The caller when a request authenticates with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = None
        self.id = None
        self.username = f"api-key:{key.prefix}"

    def __str__(self) -> str:
        return f"API key {self.key.name} ({self.key.prefix}…)"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None  # not ours: session authentication may still apply
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "invalid Authorization header; expected 'Bearer <api key>'"
            )
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(INVALID_KEY) from None
        key = cached_key(raw)
        if key is None:
            # Looking a key up is what a guesser makes us do: an address that
            # sent too many wrong keys waits (builder/api/key_throttle.py).
            address = request.META.get("REMOTE_ADDR", "")
            wait = key_throttle.retry_after(address)
            if wait is not None:
                raise exceptions.Throttled(
                    wait=wait,
                    detail=f"too many wrong API keys from this address; try again in {wait} s",
                )
            key = find_key(raw)
            if key is None:
                key_throttle.failed(address)
                raise exceptions.AuthenticationFailed(INVALID_KEY)
        self._touch(key)
        return ApiKeyUser(key), key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 to an anonymous call.
        return f'{KEYWORD} realm="api"'

    @staticmethod
    def _touch(key: ApiKey) -> None:
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes ApiKeyAuthentication in the OpenAPI schema."""

    target_class = "builder.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of the workspace: `Authorization: Bearer cairn_…`.",
        }
