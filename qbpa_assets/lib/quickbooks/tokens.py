"""The OAuth token store: one JSON file per company, shared by every process on the machine.

Intuit rotates refresh tokens: a refresh may return a new refresh token, and the old one dies
soon after. Two rules follow, and this module enforces both:

* the rotated refresh token is written to disk (atomically, fsync'd) **before** the new access
  token is handed to anybody, so a crash right after a refresh never loses the only valid token;
* refreshes are serialized across processes with a file lock, and under the lock the store is
  re-read: if another process refreshed meanwhile and its access token is still valid, it is
  reused instead of spending (and killing) the refresh token a second time.

``QBO_REFRESH_TOKEN`` only *seeds* the store. The store remembers a hash of the seed it was
created from; the same seed later is ignored (the store holds a newer, rotated token), while a
different seed (the user re-authorized and set a new value) replaces the store's content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import filelock

from qbpa_assets.lib.quickbooks.errors import QboAuthError, QboConfigError, QboError

STORE_VERSION = 1
# An access token is considered expired this many seconds before Intuit would reject it, so a
# long page fetch started with it does not hit a 401 halfway.
ACCESS_TOKEN_MARGIN_SECONDS = 120.0
LOCK_TIMEOUT_SECONDS = 120.0

REAUTHORIZE_HINT = (
    "the QuickBooks app must be re-authorized: run `qbpa authorize` and set QBO_REFRESH_TOKEN "
    "(and QBO_REALM_ID) to the values it prints"
)


def hash_token(token: str) -> str:
    """Return a one-way fingerprint of a token (stored instead of the seed itself)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenGrant:
    """What the OAuth token endpoint returned."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_in: float = 3600.0
    refresh_token_expires_in: float | None = None


@dataclass(frozen=True)
class TokenState:
    """Content of the token store file."""

    refresh_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    access_token_expires_at: float | None = None
    refresh_token_expires_at: float | None = None
    realm_id: str | None = None
    seed_hash: str | None = None
    retired_seed_hashes: tuple[str, ...] = ()
    updated_at: float = 0.0

    def access_token_valid(self, margin: float = ACCESS_TOKEN_MARGIN_SECONDS) -> bool:
        """Whether the stored access token can still be used for ``margin`` seconds."""
        return bool(
            self.access_token
            and self.access_token_expires_at is not None
            and self.access_token_expires_at - margin > time.time()
        )

    def knows_seed(self, seed: str) -> bool:
        """Whether ``seed`` is the seed of this store or one it already replaced."""
        digest = hash_token(seed)
        return digest == self.seed_hash or digest in self.retired_seed_hashes

    def to_json(self) -> dict[str, Any]:
        """Serializable form (the file format)."""
        data = asdict(self)
        data["retired_seed_hashes"] = list(self.retired_seed_hashes)
        return {"version": STORE_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenState:
        """Parse the file format."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["retired_seed_hashes"] = tuple(known.get("retired_seed_hashes") or ())
        return cls(**known)


class TokenStore:
    """Atomic JSON file (mode 0600) plus a sibling ``.lock`` file for cross-process locking."""

    def __init__(self, path: str | Path, *, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> None:
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout
        self._filelock: filelock.BaseFileLock | None = None

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cross-process lock (re-entrant within one process)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._filelock is None:
            self._filelock = filelock.FileLock(str(self.lock_path), timeout=self.lock_timeout)
        try:
            with self._filelock:
                yield
        except filelock.Timeout as exc:
            raise QboError(
                f"timed out after {self.lock_timeout:.0f}s waiting for the token store lock "
                f"{self.lock_path} (another process is refreshing the QuickBooks token)"
            ) from exc

    def load(self) -> TokenState | None:
        """Read the store; ``None`` when it does not exist yet."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not data.get("refresh_token"):
                raise ValueError("no refresh_token")
            return TokenState.from_json(data)
        except (ValueError, TypeError) as exc:
            raise QboError(
                f"the token store {self.path} is unreadable ({type(exc).__name__}); delete it and "
                "set QBO_REFRESH_TOKEN, or run `qbpa authorize`"
            ) from None

    def save(self, state: TokenState) -> None:
        """Write the store atomically: temp file (0600) + fsync + ``os.replace`` + dir fsync."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(state.to_json(), indent=2, sort_keys=True).encode("utf-8")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=str(self.path.parent))
        try:
            os.fchmod(fd, 0o600)  # mkstemp already uses 0600; be explicit about the contract
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # directory fsync is not supported everywhere
            dir_fd = os.open(str(self.path.parent), os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def record_grant(
        self,
        grant: TokenGrant,
        *,
        previous: TokenState | None,
        realm_id: str | None,
        seed: bool = False,
    ) -> TokenState:
        """Build and save the state after a successful token grant.

        Args:
            grant: What the token endpoint returned.
            previous: The state the grant was obtained from (``None`` for a fresh store).
            realm_id: The company the tokens belong to.
            seed: True for an authorization-code grant (``qbpa authorize``): the new refresh
                token becomes the store's seed, and the old seed is retired so that a stale
                ``QBO_REFRESH_TOKEN`` still set in the environment does not re-seed over it.
        """
        now = time.time()
        refresh = grant.refresh_token or (previous.refresh_token if previous else None)
        if not refresh:
            raise QboAuthError("the token endpoint returned no refresh token; " + REAUTHORIZE_HINT)
        seed_hash = previous.seed_hash if previous else None
        retired = previous.retired_seed_hashes if previous else ()
        if seed:
            if seed_hash:
                retired = (*retired, seed_hash)[-20:]
            seed_hash = hash_token(refresh)
        state = TokenState(
            refresh_token=refresh,
            access_token=grant.access_token,
            access_token_expires_at=now + float(grant.expires_in or 3600),
            refresh_token_expires_at=(
                now + float(grant.refresh_token_expires_in)
                if grant.refresh_token_expires_in
                else (previous.refresh_token_expires_at if previous else None)
            ),
            realm_id=realm_id or (previous.realm_id if previous else None),
            seed_hash=seed_hash,
            retired_seed_hashes=tuple(retired),
            updated_at=now,
        )
        self.save(state)
        return state


Refresher = Callable[[str], TokenGrant]


class TokenManager:
    """Hands out a valid access token, refreshing (once, for everybody) when needed.

    Thread-safe within a process (a lock) and across processes (the store's file lock).

    Args:
        store: The token store.
        refresher: Exchanges a refresh token for a :class:`TokenGrant` (raises
            :class:`QboAuthError` on ``invalid_grant``).
        seed_refresh_token: ``QBO_REFRESH_TOKEN``, if set.
        realm_id: The company the client talks to.
        logger: Where refreshes are reported (never the tokens).
    """

    def __init__(
        self,
        store: TokenStore,
        refresher: Refresher,
        *,
        seed_refresh_token: str | None,
        realm_id: str,
        logger: logging.Logger | Any | None = None,
        margin: float = ACCESS_TOKEN_MARGIN_SECONDS,
    ) -> None:
        self.store = store
        self._refresher = refresher
        self._seed = seed_refresh_token or None
        self._realm_id = realm_id
        self._log = logger or logging.getLogger(__name__)
        self._margin = margin
        self._lock = threading.RLock()
        self._state: TokenState | None = None
        self.refreshes = 0

    def _ensure_state(self) -> TokenState:
        """Load the store, seeding (or re-seeding) it from ``QBO_REFRESH_TOKEN`` if needed."""
        if self._state is not None:
            return self._state
        with self.store.locked():
            state = self.store.load()
            if self._seed and (state is None or not state.knows_seed(self._seed)):
                retired = state.retired_seed_hashes if state else ()
                if state and state.seed_hash:
                    retired = (*retired, state.seed_hash)[-20:]
                state = TokenState(
                    refresh_token=self._seed,
                    realm_id=self._realm_id,
                    seed_hash=hash_token(self._seed),
                    retired_seed_hashes=tuple(retired),
                    updated_at=time.time(),
                )
                self.store.save(state)
                self._log.info(
                    f"QuickBooks token store {self.store.path} seeded from QBO_REFRESH_TOKEN"
                )
            if state is None:
                raise QboConfigError(
                    f"QBO_REFRESH_TOKEN is not set and the token store {self.store.path} does not "
                    "exist: run `qbpa authorize` (or set QBO_REFRESH_TOKEN)",
                    variable="QBO_REFRESH_TOKEN",
                )
            if state.realm_id and self._realm_id and state.realm_id != self._realm_id:
                raise QboConfigError(
                    f"QBO_REALM_ID is {self._realm_id} but the token store {self.store.path} "
                    f"holds tokens for company {state.realm_id}: set QBO_REALM_ID accordingly, "
                    "or set QBO_REFRESH_TOKEN to a token authorized for this company",
                    variable="QBO_REALM_ID",
                )
            self._state = state
            return state

    def current(self) -> str:
        """A valid access token (refreshing first if the known one is expired or missing)."""
        with self._lock:
            state = self._ensure_state()
            if state.access_token_valid(self._margin):
                return state.access_token  # type: ignore[return-value]
            return self._refresh(stale=state.access_token)

    def invalidate(self, stale: str | None) -> str:
        """QuickBooks rejected ``stale`` (HTTP 401): return a token that should work."""
        with self._lock:
            state = self._ensure_state()
            if state.access_token and state.access_token != stale and state.access_token_valid(0):
                return state.access_token  # another thread refreshed while we were waiting
            return self._refresh(stale=stale)

    def _refresh(self, stale: str | None) -> str:
        with self.store.locked():
            # Re-read under the lock: another process may have refreshed (and rotated the
            # refresh token) since we loaded the store. Spending our stale copy of the refresh
            # token then would get invalid_grant.
            state = self.store.load() or self._ensure_state()
            if (
                state.access_token
                and state.access_token != stale
                and state.access_token_valid(self._margin)
            ):
                self._log.debug("QuickBooks access token already refreshed by another process")
                self._state = state
                return state.access_token
            self._log.info("refreshing the QuickBooks access token")
            grant = self._refresher(state.refresh_token)
            # Persist before use: from now on only the rotated token is guaranteed valid.
            new_state = self.store.record_grant(grant, previous=state, realm_id=self._realm_id)
            self.refreshes += 1
            rotated = grant.refresh_token and grant.refresh_token != state.refresh_token
            self._log.info(
                "QuickBooks access token refreshed"
                + (" (refresh token rotated and saved)" if rotated else "")
            )
            self._state = new_state
            return new_state.access_token  # type: ignore[return-value]

    def state(self) -> TokenState:
        """The current state (loads or seeds the store on first use)."""
        with self._lock:
            return self._ensure_state()
