"""The HTTP server's protocol: uvicorn's httptools one, reading a URL typed with non-ASCII
letters as its percent-encoded form.

`curl 'localhost:8000/v1/search?q=József'` sends the UTF-8 bytes of "é" as they are, which
HTTP does not allow in a request line; the parser would refuse the request with a bare
plain-text 400 before the application sees it. Here every byte from 0x80 up in the request
line is percent-encoded before the parser reads it (`é` becomes `%C3%A9`), so the request is
answered exactly as the same URL typed percent-encoded would be. Nothing else changes: a
request line that is malformed in another way is refused as before.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A request line longer than this is left to the parser, which refuses it
MAX_REQUEST_LINE = 64 * 1024


def percent_encode_non_ascii(line: bytes) -> bytes:
    """`line` with each byte from 0x80 up written as %XX."""
    if line.isascii():
        return line
    return b"".join(b"%%%02X" % byte if byte >= 0x80 else bytes((byte,)) for byte in line)


class ArchiveHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that percent-encodes non-ASCII bytes of each request line."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._line = b""  # the start of a request line not yet given to the parser
        self._at_request_line = True

    def data_received(self, data: bytes) -> None:
        if self._at_request_line:
            self._line += data
            # (blank lines before a request line are allowed, and skipped by the parser)
            start = len(self._line) - len(self._line.lstrip(b"\r\n"))
            end = self._line.find(b"\n", start) if start < len(self._line) else -1
            if end < 0 and len(self._line) <= MAX_REQUEST_LINE:
                self._unset_keepalive_if_required()
                return  # wait for the rest of the line
            if end < 0:
                data, self._line = self._line, b""
            else:
                line, rest = self._line[: end + 1], self._line[end + 1 :]
                self._line = b""
                data = percent_encode_non_ascii(line) + rest
            self._at_request_line = False
        super().data_received(data)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next bytes (on a kept-alive connection) start another request
        self._at_request_line = True
