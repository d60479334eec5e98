"""TOTP codes (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), as an authenticator app shows
them, for load-test staff whose second-factor device the load set-up made with a known key."""

import hashlib
import hmac
import struct
import time


def totp(hex_key, at=None, step=30, digits=6):
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(bytes.fromhex(hex_key), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)
