"""The production lock store: Rasa's RedisLockStore, taking and giving back a conversation's
lock in one Redis call each instead of seven.

endpoints.production.yml configures it (`type: addons.lock_store.AtomicRedisLockStore`). The
locks are Rasa's ticket locks, stored under the same keys in the same format, so servers with
this class and with Rasa's own RedisLockStore can share one Redis.

Rasa's lock store reads a lock, changes it in Python and writes it back: GET and SET to issue
a ticket, GET to check it is served, GET, SET, GET and DEL to give it back. Rasa calls Redis
synchronously, so each round trip stops the server (1.3 ms of CPU per message under load,
docs/benchmark.md), and another server can change the lock between the GET and the SET. Here
two Lua scripts, which Redis runs atomically, do the same changes. A conversation whose lock
is held (another message of the same conversation being answered) waits as in Rasa: Rasa's
own polling loop, unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# TicketLock's rules: a ticket has expired when now > expires; the next number follows the
# last ticket kept (0 when none); tickets are JSON strings inside the lock's JSON.
# Returns the new ticket's number and the lock as stored.
ISSUE = """
local now, lifetime = tonumber(ARGV[2]), tonumber(ARGV[3])
local kept, last = {}, -1
local stored = redis.call('GET', KEYS[1])
if stored then
  for _, text in ipairs(cjson.decode(stored).tickets or {}) do
    local ticket = cjson.decode(text)
    if not (now > ticket.expires) then
      table.insert(kept, text)
      last = ticket.number
    end
  end
end
local number = last + 1
table.insert(kept, cjson.encode({number = number, expires = now + lifetime}))
local lock = cjson.encode({conversation_id = ARGV[1], tickets = kept})
redis.call('SET', KEYS[1], lock)
return {number, lock}
"""

# Removes a ticket (and any expired one); deletes the lock when no ticket is left.
FINISH = """
local number, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local stored = redis.call('GET', KEYS[1])
if not stored then
  return 0
end
local lock = cjson.decode(stored)
local kept = {}
for _, text in ipairs(lock.tickets or {}) do
  local ticket = cjson.decode(text)
  if ticket.number ~= number and not (now > ticket.expires) then
    table.insert(kept, text)
  end
end
if #kept == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], cjson.encode({conversation_id = lock.conversation_id, tickets = kept}))
end
return #kept
"""


class AtomicRedisLockStore(RedisLockStore):
    """RedisLockStore whose ticket is issued and given back by one atomic call each."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa creates a lock store of a custom type with its endpoint config only.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self._issue = self.red.register_script(ISSUE)
        self._finish = self.red.register_script(FINISH)

    def _issue_ticket(self, conversation_id: str, lock_lifetime: float) -> tuple[int, TicketLock]:
        try:
            number, stored = self._issue(
                keys=[self.key_prefix + conversation_id],
                args=[conversation_id, repr(time.time()), repr(float(lock_lifetime))],
            )
        except Exception as error:  # as Rasa's issue_ticket
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        return int(number), TicketLock.from_dict(json.loads(stored))

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._issue_ticket(conversation_id, lock_lifetime)[0]

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self._finish(
            keys=[self.key_prefix + conversation_id],
            args=[str(ticket_number), repr(time.time())],
        )

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        ticket, lock = self._issue_ticket(conversation_id, lock_lifetime)
        try:
            if lock.is_locked(ticket):  # another message of this conversation is being answered
                lock = await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
            yield lock
        finally:
            self.cleanup(conversation_id, ticket)
