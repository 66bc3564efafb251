"""Time-stamp requests that fail loudly: a TSA failure is an error, never a silently unstamped signature."""
import asyncio
import atexit
import os
import threading

import aiohttp
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError


class TimestampUnavailable(Exception):
    """The time-stamp authority did not answer, or refused: the signature or timestamp is not made."""


class StrictTimeStamper(HTTPTimeStamper):
    """Any TSA failure, including a refused request, stops the signature (DESIGN: a failing
    timestamp server is an error shown to the user, never an unstamped signature)."""

    async def async_request_tsa_response(self, req):
        try:
            # pyHanko's own request, made on the kept-alive session (the TSA's loop), awaited from here
            loop = _tsa_loop()
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                _KeptAlive(self).async_request_tsa_response(req), loop))
        except (TimestampRequestError, OSError, asyncio.TimeoutError) as e:
            raise TimestampUnavailable(str(e.__cause__ or e)) from e

    async def async_timestamp(self, message_digest, md_algorithm):
        try:
            return await super().async_timestamp(message_digest, md_algorithm)
        except TimestampRequestError as e:
            raise TimestampUnavailable(str(e)) from e


# Keep-alive. pyHanko opens and closes an HTTP session per timestamp request, since each signature runs its own
# event loop (asyncio.run). Here every request goes through one session on one long-lived loop in a daemon
# thread: a batch's hundreds of requests to the TSA reuse open connections (no TCP/TLS handshake each), and
# the signing threads of a batch (sheets.tasks) overlap their round trips on it.
TSA_CONNECTIONS = 8
_lock = threading.Lock()
_state: dict = {}


class _KeptAlive(HTTPTimeStamper):
    """The caller's URL, timeout, auth and headers, with the shared session."""

    def __init__(self, of: HTTPTimeStamper):
        super().__init__(of.url, timeout=of.timeout, auth=of.auth, headers=of.headers, session=_state["session"])


def _tsa_loop() -> asyncio.AbstractEventLoop:
    with _lock:
        if _state.get("pid") != os.getpid():     # new, or inherited by a fork (whose copy has no thread)
            _state.clear()
            _state["pid"] = os.getpid()
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="tsa-keepalive", daemon=True).start()
            _state["session"] = asyncio.run_coroutine_threadsafe(_new_session(), loop).result()
            _state["loop"] = loop
            atexit.register(_close)
        return _state["loop"]


async def _new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=TSA_CONNECTIONS))


def _close() -> None:
    loop, session = _state.get("loop"), _state.get("session")
    if loop is not None and session is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(session.close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
