"""Time-stamp requests that fail loudly: a TSA failure is an error, never a silently unstamped signature."""
import asyncio

from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError


class TimestampUnavailable(Exception):
    """The time-stamp authority did not answer, or refused: the signature or timestamp is not made."""


class StrictTimeStamper(HTTPTimeStamper):
    """Any TSA failure, including a refused request, stops the signature (DESIGN: a failing
    timestamp server is an error shown to the user, never an unstamped signature)."""

    async def async_request_tsa_response(self, req):
        try:
            return await super().async_request_tsa_response(req)
        except (TimestampRequestError, OSError, asyncio.TimeoutError) as e:
            raise TimestampUnavailable(str(e.__cause__ or e)) from e

    async def async_timestamp(self, message_digest, md_algorithm):
        try:
            return await super().async_timestamp(message_digest, md_algorithm)
        except TimestampRequestError as e:
            raise TimestampUnavailable(str(e)) from e
