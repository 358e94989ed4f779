"""What both RTMP endpoints share: chunk I/O, protocol control, acknowledgements, the send queue.

This is SRS's ``SrsProtocol`` without the socket: received chunks become messages; Set Chunk Size,
Window Acknowledgement Size, User Control (ping) and Acknowledgement are handled here as
``SrsProtocol::on_recv_message`` does; everything else goes to the session's ``_on_message``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from srs.protocol.rtmp.chunk import ByteBudget, ChunkReader, RawMessage, encode_message
from srs.protocol.rtmp.events import (
    AcknowledgementReceived,
    ChunkSizeChanged,
    Event,
    MediaReceived,
    MetadataReceived,
    WindowAckSizeChanged,
)
from srs.protocol.rtmp.message import (
    CSID_OVER_CONNECTION,
    CSID_PROTOCOL_CONTROL,
    DEFAULT_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    Acknowledgement,
    Command,
    DataMessage,
    MessageType,
    SetChunkSize,
    SetPeerBandwidth,
    UserControl,
    UserControlMessage,
    WindowAckSize,
    unpack_aggregate,
)
from srs.util.errors import LocalProtocolError, SrsError

_ACK_SEQUENCE_RESET = 0xF0000000


class RtmpConnection(ABC):
    """Base of :class:`~srs.protocol.rtmp.server.ServerSession` and the client session."""

    def __init__(self, *, max_message_size: int, in_ack_size: int, budget: ByteBudget | None = None) -> None:
        self._reader = ChunkReader(max_message_size=max_message_size, budget=budget)
        self._out: list[bytes] = []
        self.out_chunk_size = DEFAULT_CHUNK_SIZE
        # Our acknowledgement window: the peer's Window Ack Size, or the configured in_ack_size.
        self.in_ack_size = in_ack_size
        self._bytes_received = 0
        self._ack_recv_bytes = 0  # bytes received when we last acknowledged
        self._ack_sequence = 0
        self.buffer_length_ms = 0  # from the peer's SetBufferLength
        self._failed: SrsError | None = None

    # ------------------------------------------------------------------ public

    @property
    def in_chunk_size(self) -> int:
        return self._reader.chunk_size

    @property
    def bytes_received(self) -> int:
        return self._bytes_received

    @property
    def has_data_to_send(self) -> bool:
        return bool(self._out)

    def release(self) -> None:
        """The connection is gone: give the bytes of partial messages back to the shared budget."""
        self._reader.release()

    def data_to_send(self) -> list[bytes]:
        """Everything queued so far, in order; the queue is emptied."""
        out, self._out = self._out, []
        return out

    def send_raw(self, data: bytes) -> None:
        """Queue already chunked bytes (e.g. media encoded once and shared by many players)."""
        self._out.append(data)

    def send_message(
        self, msg_type: int, payload: bytes, *, csid: int, stream_id: int = 0, timestamp: int = 0
    ) -> None:
        """Chunk and queue one message with our output chunk size."""
        self._out.append(encode_message(csid, timestamp, msg_type, stream_id, payload, self.out_chunk_size))

    def send_command(
        self,
        name: str,
        transaction_id: float,
        command_object: Any = None,
        *args: Any,
        stream_id: int = 0,
        csid: int = CSID_OVER_CONNECTION,
    ) -> None:
        """Queue an AMF0 command message (type 20)."""
        body = Command(name, transaction_id, command_object, args).encode()
        self.send_message(MessageType.AMF0_COMMAND, body, csid=csid, stream_id=stream_id)

    def set_chunk_size(self, size: int) -> None:
        """Announce ``size`` and use it for what we send from now on (the announcement itself uses the old)."""
        if not MIN_CHUNK_SIZE <= size <= 0x7FFFFFFF:
            raise LocalProtocolError(f"invalid chunk size {size}: peers refuse less than {MIN_CHUNK_SIZE}")
        self._send_control(MessageType.SET_CHUNK_SIZE, bytes(SetChunkSize(size)))
        self.out_chunk_size = size

    def set_window_ack_size(self, size: int) -> None:
        self._send_control(MessageType.WINDOW_ACK_SIZE, bytes(WindowAckSize(size)))

    def set_peer_bandwidth(self, size: int, limit_type: int) -> None:
        self._send_control(MessageType.SET_PEER_BANDWIDTH, bytes(SetPeerBandwidth(size, limit_type)))

    def send_user_control(self, event_type: int, value: int, extra: int = 0) -> None:
        self._send_control(MessageType.USER_CONTROL, bytes(UserControlMessage(event_type, value, extra)))

    # ------------------------------------------------------------------ for subclasses

    def _send_control(self, msg_type: int, payload: bytes) -> None:
        self.send_message(msg_type, payload, csid=CSID_PROTOCOL_CONTROL)

    def _check_alive(self) -> None:
        if self._failed is not None:
            raise LocalProtocolError(f"rtmp session already failed: {self._failed}")

    def _feed_chunks(self, data: bytes, events: list[Event]) -> None:
        """Read messages out of ``data``; handle protocol control; pass the rest to ``_on_message``.

        The caller has already counted ``data`` in ``_bytes_received`` (with the handshake bytes,
        as SRS counts socket bytes).
        """
        for msg in self._reader.feed(data):
            if not msg.payload:
                continue  # SRS ignores empty messages before anything else
            self._maybe_acknowledge()
            if not self._on_control(msg, events):
                self._on_message(msg, events)

    def _maybe_acknowledge(self) -> None:
        # SrsProtocol::response_acknowledgement_message: ack once half a window has arrived.
        window = self.in_ack_size
        if window <= 0:
            return
        delta = (self._bytes_received - self._ack_recv_bytes) & 0xFFFFFFFF
        if delta < window // 2:
            return
        self._ack_recv_bytes = self._bytes_received
        sequence = self._ack_sequence + delta
        if sequence > _ACK_SEQUENCE_RESET:
            sequence = delta
        self._ack_sequence = sequence
        self._send_control(MessageType.ACKNOWLEDGEMENT, bytes(Acknowledgement(sequence)))

    def _on_control(self, msg: RawMessage, events: list[Event]) -> bool:
        t = msg.msg_type
        if t == MessageType.SET_CHUNK_SIZE:
            events.append(ChunkSizeChanged(self._reader.chunk_size))  # validated and applied by the reader
            return True
        if t == MessageType.WINDOW_ACK_SIZE:
            size = WindowAckSize.parse(msg.payload).size
            if size > 0:
                self.in_ack_size = size
            events.append(WindowAckSizeChanged(size))
            return True
        if t == MessageType.USER_CONTROL:
            uc = UserControlMessage.parse(msg.payload)
            if uc.event_type == UserControl.SET_BUFFER_LENGTH:
                self.buffer_length_ms = uc.extra
            elif uc.event_type == UserControl.PING_REQUEST:
                self.send_user_control(UserControl.PING_RESPONSE, uc.value)
            self._on_user_control(uc, events)
            return True
        if t == MessageType.ACKNOWLEDGEMENT:
            if len(msg.payload) >= 4:  # SRS never decodes it; a short one is simply ignored
                events.append(AcknowledgementReceived(Acknowledgement.parse(msg.payload).sequence))
            return True
        # Abort is applied by the reader; peer bandwidth is advisory and SRS ignores it.
        return t == MessageType.ABORT or t == MessageType.SET_PEER_BANDWIDTH

    def _on_user_control(self, uc: UserControlMessage, events: list[Event]) -> None:  # noqa: B027 - optional hook
        """Hook for the client, which reports StreamBegin/StreamEOF."""

    @abstractmethod
    def _on_message(self, msg: RawMessage, events: list[Event]) -> None:
        """A non-control message: the server and client sessions each handle their own."""

    # ------------------------------------------------------------------ media helpers

    @staticmethod
    def _media_events(msg: RawMessage, events: list[Event]) -> None:
        """Audio/video as one event each; an aggregate as one event per audio/video sub-message."""
        if msg.msg_type == MessageType.AGGREGATE:
            for sub_type, ts, sid, body in unpack_aggregate(msg.payload, msg.timestamp):
                # SrsLiveSource::on_aggregate only forwards audio and video; empty ones are dropped.
                if (sub_type == MessageType.AUDIO or sub_type == MessageType.VIDEO) and body:
                    events.append(MediaReceived(sub_type, ts, sid, body))
            return
        events.append(MediaReceived(msg.msg_type, msg.timestamp, msg.stream_id, msg.payload))

    @staticmethod
    def _metadata_event(msg: RawMessage) -> tuple[str, MetadataReceived]:
        """The data message's own first name (e.g. ``@setDataFrame``) and its event."""
        amf3 = msg.msg_type == MessageType.AMF3_DATA
        data = DataMessage.parse(msg.payload, amf3=amf3)
        inner = data.strip_set_data_frame()
        payload = data.encode() if amf3 else msg.payload
        return data.name, MetadataReceived(msg.timestamp, inner.name, inner.values, payload)
