"""An access token kept in Redis for every process of a deployment.

Each web process, Celery worker and beat holds its own Marketo and Salesforce clients, and each
new one logged in before its first call: one more round trip (Marketo's identity call,
Salesforce's client-credentials login) for every worker started, every time a pool child is
replaced, on every machine. ``docker compose up --scale worker=4`` paid it four times over, in
the first tasks after a start (bench/workers.py: ~0.1 s of each worker's first campaign batch
waiting on Marketo's identity call). Marketo hands every caller of one custom service the same
token until it expires, and Salesforce lets one session serve many callers, so one login can
serve them all: the first process to log in keeps the token here, the others take it.

The token is an access credential for its lifetime (Marketo's is an hour at most), so it is
kept only where the broker and the cache already are, under a key named by a hash of the
instance and credentials (a changed secret is another key), and it expires from Redis before
it does at the remote. A token the remote rejects is dropped here by whoever saw it rejected,
only if it is still the one kept (a newer one another process put is left alone).

Should Redis fail, the client logs in on its own as before (logged): a call is never stopped
by the token's store.
"""

from __future__ import annotations

import hashlib
import json
import logging

import redis

from .shared_limiter import redis_for

log = logging.getLogger(__name__)

KEY_PREFIXES = ("marketo:token:", "salesforce:token:")
# Every Redis a token store of this process used, for tokens_shared_forget.
_redis_urls: set[str] = set()

# Deletes the key only while it still holds the rejected token.
_DROP_IF_SAME = """
local kept = redis.call('GET', KEYS[1])
if kept and cjson.decode(kept)['token'] == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SharedToken:
    """One remote's access token (with what came with it, e.g. Salesforce's instance URL) kept
    for every process using the same Redis, base URL and credentials."""

    def __init__(self, redis_url: str, system: str, base_url: str, client_id: str,
                 client_secret: str):
        self._redis = redis_for(redis_url)
        _redis_urls.add(redis_url)
        credentials = hashlib.blake2b(
            f"{base_url.rstrip('/')}|{client_id}|{client_secret}".encode(),
            digest_size=12).hexdigest()
        self._key = f"{system}:token:{credentials}"
        assert self._key.startswith(KEY_PREFIXES)
        self._drop_if_same = self._redis.register_script(_DROP_IF_SAME)

    def get(self) -> tuple[str, float, dict] | None:
        """The kept token, the seconds it has left here and its extras; None when there is
        none (or Redis cannot say)."""
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                kept, left_ms = pipe.get(self._key).pttl(self._key).execute()
        except redis.RedisError:
            log.warning("shared access token: Redis unavailable, logging in alone", exc_info=True)
            return None
        if kept is None or left_ms is None or left_ms <= 0:
            return None
        kept = json.loads(kept)
        return kept["token"], left_ms / 1000, kept.get("extra", {})

    def put(self, token: str, seconds: float, extra: dict | None = None) -> None:
        """Keep ``token`` for ``seconds`` (less than its life at the remote)."""
        if seconds < 1:
            return
        try:
            self._redis.set(self._key, json.dumps({"token": token, "extra": extra or {}}),
                            px=int(seconds * 1000))
        except redis.RedisError:
            log.warning("shared access token: Redis unavailable, token not shared",
                        exc_info=True)

    def drop(self, token: str) -> None:
        """Forget ``token`` (the remote rejected it) unless another one has replaced it."""
        try:
            self._drop_if_same(keys=[self._key], args=[token])
        except redis.RedisError:
            log.warning("shared access token: could not drop a rejected token", exc_info=True)


def tokens_shared_forget() -> None:
    """Delete every shared token in each Redis this process's token stores used (tests: a
    sandbox reset between tests revokes its tokens)."""
    for url in list(_redis_urls):
        connection = redis_for(url)
        try:
            keys = [key for prefix in KEY_PREFIXES
                    for key in connection.scan_iter(f"{prefix}*")]
            if keys:
                connection.delete(*keys)
        except redis.RedisError:  # a Redis a test stopped: nothing left to forget there
            _redis_urls.discard(url)
