"""Sans-IO RTMP: handshake, chunk stream, messages, and the server/client session state machines.

Adobe RTMP specification 1.0 (chunk stream, control messages, commands), with SRS's behaviour where
clients depend on it (``ossrs/srs trunk/src/protocol/srs_protocol_rtmp_stack.cpp``).
"""

from __future__ import annotations

from srs.protocol.rtmp.chunk import ChunkReader, RawMessage, encode_message
from srs.protocol.rtmp.client import ClientSession
from srs.protocol.rtmp.events import (
    AcknowledgementReceived,
    ChunkSizeChanged,
    ClientType,
    CommandReceived,
    Connected,
    ConnectRequested,
    Event,
    HandshakeCompleted,
    MediaReceived,
    MetadataReceived,
    PauseRequested,
    PlayRequested,
    PublishRequested,
    RedirectAnswered,
    ResultReceived,
    StatusReceived,
    StreamClosed,
    StreamCreated,
    UnpublishRequested,
    UserControlReceived,
    WindowAckSizeChanged,
)
from srs.protocol.rtmp.message import (
    CSID_AUDIO,
    CSID_OVER_CONNECTION,
    CSID_OVER_CONNECTION2,
    CSID_OVER_STREAM,
    CSID_OVER_STREAM2,
    CSID_PROTOCOL_CONTROL,
    CSID_VIDEO,
    Command,
    DataMessage,
    MessageType,
    UserControl,
    media_csid,
    pack_aggregate,
    unpack_aggregate,
)
from srs.protocol.rtmp.server import ServerSession, ServerState

__all__ = [
    "CSID_AUDIO",
    "CSID_OVER_CONNECTION",
    "CSID_OVER_CONNECTION2",
    "CSID_OVER_STREAM",
    "CSID_OVER_STREAM2",
    "CSID_PROTOCOL_CONTROL",
    "CSID_VIDEO",
    "AcknowledgementReceived",
    "ChunkReader",
    "ChunkSizeChanged",
    "ClientSession",
    "ClientType",
    "Command",
    "CommandReceived",
    "ConnectRequested",
    "Connected",
    "DataMessage",
    "Event",
    "HandshakeCompleted",
    "MediaReceived",
    "MessageType",
    "MetadataReceived",
    "PauseRequested",
    "PlayRequested",
    "PublishRequested",
    "RawMessage",
    "RedirectAnswered",
    "ResultReceived",
    "ServerSession",
    "ServerState",
    "StatusReceived",
    "StreamClosed",
    "StreamCreated",
    "UnpublishRequested",
    "UserControl",
    "UserControlReceived",
    "WindowAckSizeChanged",
    "encode_message",
    "media_csid",
    "pack_aggregate",
    "unpack_aggregate",
]
