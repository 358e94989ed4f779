"""One error tree for the whole server.

Numeric codes are SRS's (``trunk/src/kernel/srs_kernel_error.hpp``) where clients can see them: they
appear in the HTTP API (``{"code": 2048}``) and in logs, so SRS users recognise them.

* :class:`ParseError` - bytes that do not decode (AMF0, FLV, chunk headers, codec configs).
* :class:`ProtocolError` - the remote peer broke the protocol (h11's ``RemoteProtocolError``).
* :class:`LocalProtocolError` - we misused a sans-IO core (a bug on our side).
* :class:`ConfigError` - a config file is wrong; names file:line and the directive.

Every parser raises only these (never ``IndexError``/``struct.error``/``KeyError``), so a connection
adapter catches :class:`SrsError` once and turns it into one clean close and one log line.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """SRS error numbers that reach clients or the API."""

    SUCCESS = 0
    TESTS = 100  # /api/v1/tests/errors
    SOCKET_CLOSED = 1004
    SOCKET_READ = 1007
    SOCKET_WRITE = 1009
    SOCKET_TIMEOUT = 1011
    SYSTEM_PACKET_INVALID = 1019
    SYSTEM_CLIENT_INVALID = 1020
    SYSTEM_CONFIG_INVALID = 1023
    SYSTEM_STREAM_BUSY = 1028
    SYSTEM_SECURITY = 1052
    SYSTEM_SECURITY_DENY = 1053
    SYSTEM_SECURITY_ALLOW = 1054
    SYSTEM_CONFIG_RAW = 1060
    SYSTEM_CONFIG_RAW_DISABLED = 1061
    SYSTEM_CONFIG_RAW_NOT_ALLOWED = 1062
    EXCEED_CONNECTIONS = 1074
    EXPORTER_DISABLED = 1090
    RTMP_PLAIN_REQUIRED = 2000
    RTMP_CHUNK_START = 2001
    RTMP_MSG_INVALID_SIZE = 2002
    RTMP_AMF0_DECODE = 2003
    RTMP_AMF0_INVALID = 2004
    RTMP_REQ_CONNECT = 2005
    RTMP_REQ_TCURL = 2006
    RTMP_MESSAGE_DECODE = 2007
    RTMP_MESSAGE_ENCODE = 2008
    RTMP_AMF0_ENCODE = 2009
    RTMP_CHUNK_SIZE = 2010
    RTMP_TRY_SIMPLE_HS = 2011
    RTMP_CH_SCHEMA = 2012
    RTMP_PACKET_SIZE = 2013
    RTMP_VHOST_NOT_FOUND = 2014
    RTMP_ACCESS_DENIED = 2015
    RTMP_HANDSHAKE = 2016
    RTMP_AGGREGATE = 2024
    RTMP_STREAM_NOT_FOUND = 2048
    RTMP_CLIENT_NOT_FOUND = 2049
    RTMP_STREAM_NAME_EMPTY = 2051
    RTMP_CREATE_STREAM_DEPTH = 2055
    RTMP_REDIRECT = 2997
    HTTP_HIJACK = 2052
    HLS_DECODE_ERROR = 3001
    HTTP_PARSE_URI = 3007
    HTTP_DATA_INVALID = 3008  # a hook answered something that is not 0 / JSON
    KERNEL_FLV_HEADER = 3036
    KERNEL_FLV_STREAM_CLOSED = 3037
    FLV_INVALID_VIDEO_TAG = 3042
    RESPONSE_CODE = 3064  # a hook's JSON answer has no integer code 0
    HTTP_URL_NOT_CLEAN = 4002
    HTTP_STATUS_INVALID = 4005  # a hook answered with a status other than 200/201
    STREAM_CASTER_FLV_TAG = 4024
    HTTP_JSONP = 4058
    RTC_SDP_DECODE = 5012  # ERROR_RTC_SDP_DECODE: an SDP that does not parse
    RTC_SDP_EXCHANGE = 5018  # ERROR_RTC_SDP_EXCHANGE: an offer we cannot answer
    RTC_API_BODY = 5019  # ERROR_RTC_API_BODY: the legacy API body is not a JSON object
    RTC_DISABLED = 5021  # ERROR_RTC_DISABLED: rtc_server or the vhost's rtc is off
    RTC_INVALID_PARAMS = 5023  # ERROR_RTC_INVALID_PARAMS
    RTC_INVALID_SESSION = 5036  # ERROR_RTC_INVALID_SESSION: DELETE without/with a wrong token
    RTC_INVALID_ICE = 5037  # ERROR_RTC_INVALID_ICE: ice-ufrag/ice-pwd of a bad length


class SrsError(Exception):
    """Base of every error the server raises on purpose."""

    code: ErrorCode = ErrorCode.SYSTEM_PACKET_INVALID

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return f"{self.message} (code={int(self.code)})"


class ParseError(SrsError):
    """Bytes that do not decode as the format says."""

    code = ErrorCode.RTMP_MESSAGE_DECODE


class ProtocolError(SrsError):
    """The remote peer violated the protocol; the connection should be closed."""

    code = ErrorCode.RTMP_MESSAGE_DECODE


class LocalProtocolError(SrsError):
    """A sans-IO core was driven in a way its state machine does not allow (our bug)."""

    code = ErrorCode.SYSTEM_CLIENT_INVALID


class ConfigError(SrsError):
    """A configuration problem, located at ``file:line`` and naming the directive."""

    code = ErrorCode.SYSTEM_CONFIG_INVALID

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        directive: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.directive = directive
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        elif line is not None:
            where = f"line {line}: "
        what = f"directive '{directive}': " if directive else ""
        super().__init__(f"{where}{what}{message}")

    def __str__(self) -> str:
        return self.message


class StreamBusyError(SrsError):
    """A second publisher asked for a stream that already has one."""

    code = ErrorCode.SYSTEM_STREAM_BUSY


class AccessDeniedError(SrsError):
    """A client is refused by vhost/security/refer/hook policy."""

    code = ErrorCode.RTMP_ACCESS_DENIED


class SdpNegotiateError(SrsError):
    """A WebRTC offer has nothing we can answer (SRS ``ERROR_RTC_SDP_EXCHANGE``)."""

    code = ErrorCode.RTC_SDP_EXCHANGE
