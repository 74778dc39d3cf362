"""JWT authentication and the typed helper that gives handlers the caller.

Tokens arrive as `authorization: Bearer <JWT>` metadata. HS256 (shared secret)
or RS256 (public key). Required claims: `sub`, `exp`; optional `roles`
(a list, or a space-separated string), `aud`, `iss`, and `channels` /
`publish_channels`: notification channels (exact names, or patterns where `*`
matches any run of characters) the token grants reading / publishing beyond the
built-in policy (at most 100 entries of at most 255 characters each).

Handlers never parse metadata: they call `current_principal()`.
"""

from __future__ import annotations

import contextvars
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from realtime.common.tokens import load_or_create_dev_secret, mint_token, read_secret_file

from .errors import HubError, unauthenticated

ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    subject: str
    roles: frozenset[str]
    expires_at: float
    issuer: str = ""
    #: Channel names or `*` patterns the token grants reading / publishing (claims `channels`,
    #: `publish_channels`).
    channels: tuple[str, ...] = ()
    publish_channels: tuple[str, ...] = ()

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


_current: contextvars.ContextVar[Principal] = contextvars.ContextVar("realtime_principal")


def current_principal() -> Principal:
    """The caller of the RPC being handled. Raises UNAUTHENTICATED outside an authenticated call."""
    try:
        return _current.get()
    except LookupError:
        raise unauthenticated("no authenticated caller for this call") from None


def bind_principal(principal: Principal) -> contextvars.Token[Principal]:
    """Make `principal` the current caller (used by the call wrapper and by tests)."""
    return _current.set(principal)


class TokenVerifier:
    """Checks bearer tokens; caches good ones (until they expire) to keep the hot path cheap."""

    def __init__(
        self,
        key: str | bytes,
        algorithm: str,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 0.0,
        clock: Callable[[], float] | None = None,
        cache_size: int = 4096,
        max_lifetime: float | None = None,
    ) -> None:
        if algorithm not in ("HS256", "RS256"):
            raise ValueError(f"unsupported JWT algorithm {algorithm!r}")
        self._key = key
        self._algorithm = algorithm
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway
        self._clock = clock or time.time
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size
        self._max_lifetime = max_lifetime

    @property
    def algorithm(self) -> str:
        return self._algorithm

    def verify_header(self, value: str | None) -> Principal:
        """Verify an `authorization` metadata value."""
        if not value:
            raise unauthenticated("missing authorization metadata: send 'authorization: Bearer <JWT>'")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("malformed authorization metadata: expected 'Bearer <JWT>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> Principal:
        now = self._clock()
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at + self._leeway > now:
                return cached
            del self._cache[token]
            raise unauthenticated("token expired")
        principal = self._decode(token, now)
        self._cache[token] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    def _decode(self, token: str, now: float) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],  # never "none", never an algorithm the token picks
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("token expired") from None
        except jwt.InvalidAudienceError:
            raise unauthenticated("token audience does not match this hub") from None
        except jwt.InvalidIssuerError:
            raise unauthenticated("token issuer does not match this hub") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthenticated(f"token lacks the required claim {exc.claim!r}") from None
        except jwt.InvalidAlgorithmError:
            raise unauthenticated(
                f"token algorithm not accepted (this hub accepts {self._algorithm})"
            ) from None
        except jwt.InvalidSignatureError:
            raise unauthenticated("token signature is not valid") from None
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"token is not a valid JWT: {exc}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise unauthenticated("token claim 'sub' must be a non-empty string")
        exp = float(claims["exp"])
        if exp + self._leeway <= now:  # pyjwt uses its own clock; ours may be injected
            raise unauthenticated("token expired")
        self._check_lifetime(claims, exp, now)
        return Principal(
            subject,
            _roles(claims.get("roles")),
            exp,
            str(claims.get("iss") or ""),
            _channels(claims, "channels"),
            _channels(claims, "publish_channels"),
        )

    def _check_lifetime(self, claims: dict[str, object], exp: float, now: float) -> None:
        """A token may not live longer than `max_lifetime`: neither as issued (exp - iat) nor
        from now (exp - now), so a token without `iat` cannot escape the limit."""
        limit = self._max_lifetime
        if limit is None:
            return
        iat = claims.get("iat")
        if isinstance(iat, int | float) and exp - float(iat) > limit + self._leeway:
            raise unauthenticated(
                f"token lifetime exp - iat = {exp - float(iat):.0f} s exceeds this hub's maximum of "
                f"{limit:.0f} s (--max-token-lifetime); mint a shorter-lived token"
            )
        if exp - now > limit + self._leeway:
            raise unauthenticated(
                f"token expires in {exp - now:.0f} s, beyond this hub's maximum lifetime of {limit:.0f} s "
                "(--max-token-lifetime); mint a shorter-lived token"
            )


_NO_ROLES: frozenset[str] = frozenset()  # shared: most callers have no roles, and streams keep theirs


MAX_CHANNEL_CLAIMS = 100
MAX_CHANNEL_CLAIM_LENGTH = 255


def _channels(claims: dict[str, object], name: str) -> tuple[str, ...]:
    raw = claims.get(name)
    if raw is None:
        return ()
    if (
        not isinstance(raw, list)
        or len(raw) > MAX_CHANNEL_CLAIMS
        or not all(isinstance(c, str) and 0 < len(c) <= MAX_CHANNEL_CLAIM_LENGTH for c in raw)
    ):
        raise unauthenticated(
            f"token claim {name!r} must be a list of at most {MAX_CHANNEL_CLAIMS} channel names or "
            f"patterns of 1..{MAX_CHANNEL_CLAIM_LENGTH} characters"
        )
    return tuple(raw)


def _roles(raw: object) -> frozenset[str]:
    if raw is None:
        return _NO_ROLES
    if isinstance(raw, str):
        return frozenset(raw.split()) or _NO_ROLES
    if isinstance(raw, list) and all(isinstance(r, str) for r in raw):
        return frozenset(raw) or _NO_ROLES
    raise unauthenticated("token claim 'roles' must be a list of strings")


__all__ = [
    "ADMIN_ROLE",
    "HubError",
    "Principal",
    "TokenVerifier",
    "bind_principal",
    "current_principal",
    "load_or_create_dev_secret",
    "mint_token",
    "read_secret_file",
]
