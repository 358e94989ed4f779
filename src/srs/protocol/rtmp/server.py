"""The server side of one RTMP connection, as a sans-IO state machine (h11 style).

It follows SRS's ``SrsRtmpServer`` / ``SrsRtmpConn`` flow (``srs_protocol_rtmp_stack.cpp``,
``srs_app_rtmp_conn.cpp``)::

    HANDSHAKE -> AWAIT_CONNECT -> CONNECTING --accept_connect()--> IDENTIFY
    IDENTIFY: releaseStream -> FMLE_FCPUBLISH -> FMLE_CREATE_STREAM -> FMLE_PUBLISH -> PUBLISH_PENDING
              createStream  -> IDENTIFY_STREAM: publish -> PUBLISH_PENDING (flash)
                                               FCPublish -> HAIVISION_PUBLISH -> PUBLISH_PENDING
                                               createStream (depth <= 3), play -> PLAY_PENDING
              play -> PLAY_PENDING
    PLAY_PENDING --start_play()--> PLAYING;  PUBLISH_PENDING --accept_publish()--> PUBLISHING
    PLAYING / PUBLISHING -- closeStream, FCUnpublish, ... --> IDENTIFY (SRS waits for a new play/publish)

The session answers what needs no policy (command replies, pings, acknowledgements); decisions
(vhost, hooks, security) belong to the caller, which gets events and calls ``accept_connect``,
``start_play``, ``accept_publish``. While the session waits for such a call (the ``*_PENDING`` and
``CONNECTING`` states) the peer's messages are held, exactly as SRS leaves them in the socket,
and processed when the call comes; the events they produce are then returned by
:meth:`pending_events` (and at the front of the next ``receive_data`` result).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum, auto
from typing import Any

import srs
from srs.format.amf0 import UNDEFINED, EcmaArray
from srs.protocol.rtmp import commands as c
from srs.protocol.rtmp.chunk import DEFAULT_MAX_MESSAGE_SIZE, ByteBudget, RawMessage
from srs.protocol.rtmp.connection import RtmpConnection
from srs.protocol.rtmp.events import (
    ClientType,
    ConnectRequested,
    Event,
    HandshakeCompleted,
    PauseRequested,
    PlayRequested,
    PublishRequested,
    RedirectAnswered,
    StreamClosed,
    UnpublishRequested,
)
from srs.protocol.rtmp.handshake import ServerHandshake
from srs.protocol.rtmp.message import (
    CSID_OVER_STREAM,
    DEFAULT_STREAM_ID,
    LIMIT_DYNAMIC,
    SET_DATA_FRAME,
    Command,
    DataMessage,
    MessageType,
    UserControl,
    is_ffmpeg_timecode,
    media_csid,
)
from srs.util.errors import ErrorCode, LocalProtocolError, ProtocolError, SrsError

FMS_VERSION = "3,5,3,888"  # RTMP_SIG_FMS_VER
CLIENT_ID = "ASAICiss"  # RTMP_SIG_CLIENT_ID, the clientid of onStatus
PEER_BANDWIDTH = 2_500_000
MAX_CREATE_STREAM_DEPTH = 3
_MAX_DEFERRED = 4096
# Ours (SRS has no such limit): before a publisher is accepted, and for players, a message is at
# most 64 KiB (connect with a long token is a few KiB) and partial messages hold at most 128 KiB.
PRELOGIN_MAX_MESSAGE_SIZE = 64 << 10
PRELOGIN_MAX_BUFFERED = 128 << 10


class ServerState(Enum):
    HANDSHAKE = auto()
    AWAIT_CONNECT = auto()
    CONNECTING = auto()
    IDENTIFY = auto()
    IDENTIFY_STREAM = auto()
    FMLE_FCPUBLISH = auto()
    FMLE_CREATE_STREAM = auto()
    FMLE_PUBLISH = auto()
    HAIVISION_PUBLISH = auto()
    PLAY_PENDING = auto()
    PUBLISH_PENDING = auto()
    PLAYING = auto()
    PUBLISHING = auto()
    REDIRECTED = auto()
    FAILED = auto()


_WAITING_FOR_CALLER = frozenset(
    {ServerState.CONNECTING, ServerState.PLAY_PENDING, ServerState.PUBLISH_PENDING}
)
_COMMAND_TYPES = frozenset({MessageType.AMF0_COMMAND, MessageType.AMF3_COMMAND})
_DATA_TYPES = frozenset({MessageType.AMF0_DATA, MessageType.AMF3_DATA})
_MEDIA_TYPES = frozenset({MessageType.AUDIO, MessageType.VIDEO, MessageType.AGGREGATE})


def status(level: str, code: str, description: str, **extra: Any) -> dict[str, Any]:
    """An onStatus info object with SRS's key order."""
    info: dict[str, Any] = {"level": level, "code": code, "description": description}
    info.update(extra)
    return info


class ServerSession(RtmpConnection):
    """One server-side RTMP connection. Feed bytes with :meth:`receive_data`, send :meth:`data_to_send`."""

    def __init__(
        self,
        *,
        random_bytes: Callable[[int], bytes],
        epoch_ms: int,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        in_ack_size: int = 0,
        budget: ByteBudget | None = None,
    ) -> None:
        super().__init__(max_message_size=max_message_size, in_ack_size=in_ack_size, budget=budget)
        self._hs: ServerHandshake | None = ServerHandshake(random_bytes=random_bytes, epoch_ms=epoch_ms)
        # Until the caller accepts a publisher, the peer is anonymous and only sends commands: it
        # gets small limits (a 15 MB tcUrl would cost the loop a second; partial messages megabytes).
        self._max_message_size = max_message_size
        self._reader.max_message_size = min(max_message_size, PRELOGIN_MAX_MESSAGE_SIZE)
        self._reader.max_buffered_bytes = min(2 * max_message_size, PRELOGIN_MAX_BUFFERED)
        self._max_deferred_bytes = self._reader.max_buffered_bytes
        self.state = ServerState.HANDSHAKE
        self.proxy_ip: str | None = None
        self.handshake_complex = False
        self.tc_url = ""
        self.object_encoding = 0.0
        self.client_type: ClientType | None = None
        self.stream_name = ""
        self.stream_id = DEFAULT_STREAM_ID  # message stream id of the media stream (SRS_DEFAULT_SID)
        self.paused = False
        self._depth = 0
        self._deferred: list[RawMessage] = []
        self._deferred_bytes = 0
        self._events: list[Event] = []
        self._deferred_error: SrsError | None = None

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes) -> list[Event]:
        """Consume bytes from the peer; return the events they caused (raises on bad input)."""
        self._check_alive()
        events, self._events = self._events, []
        try:
            self._raise_deferred_error()
            self._bytes_received += len(data)
            hs = self._hs
            if hs is not None:
                hs.receive_data(data)
                reply = hs.data_to_send()
                if reply:
                    self._out.append(reply)
                if not hs.done:
                    return events
                self._hs = None
                self.proxy_ip = hs.proxy_ip
                self.handshake_complex = hs.complex
                events.append(HandshakeCompleted(hs.proxy_ip, hs.complex))
                self.state = ServerState.AWAIT_CONNECT
                data = hs.leftover
            if data:
                self._feed_chunks(data, events)
        except SrsError as e:
            self._fail(e)
            raise
        return events

    def pending_events(self) -> list[Event]:
        """Events produced by held messages processed in ``accept_connect``/``start_play``/``accept_publish``."""
        self._check_alive()
        try:
            self._raise_deferred_error()
        except SrsError as e:
            self._fail(e)
            raise
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------ caller decisions

    def accept_connect(
        self, *, chunk_size: int, out_ack_size: int, server_ip: str, client_id: str, pid: int
    ) -> None:
        """Answer ``connect`` as SRS's service_cycle: ack window, bandwidth, chunk size, _result, onBWDone."""
        self._expect_state(ServerState.CONNECTING, "accept_connect")
        if out_ack_size:
            self.set_window_ack_size(out_ack_size)
        self.set_peer_bandwidth(PEER_BANDWIDTH, LIMIT_DYNAMIC)
        # Before any large message, so that OBS is happy (ossrs/srs#454).
        self.set_chunk_size(chunk_size)
        data = EcmaArray(
            version=FMS_VERSION,
            srs_sig=srs.KEY,
            srs_server=srs.SIGNATURE,
            srs_license=srs.LICENSE,
            srs_url=srs.URL,
            srs_version=srs.VERSION,
            srs_authors=srs.AUTHORS,
            srs_server_ip=server_ip,
            srs_pid=float(pid),
            srs_id=client_id,
        )
        props = {"fmsVer": "FMS/" + FMS_VERSION, "capabilities": 127.0, "mode": 1.0}
        info = status(
            "status",
            "NetConnection.Connect.Success",
            "Connection succeeded",
            objectEncoding=self.object_encoding,
            data=data,
        )
        # SRS compat: the connect _result always carries transaction id 1 (SrsConnectAppResPacket).
        self.send_command(c.RESULT, 1.0, props, info)
        self.send_command(c.ON_BW_DONE, 0.0, None)
        self._enter(ServerState.IDENTIFY)

    def reject_connect(self, description: str) -> None:
        """onStatus NetConnection.Connect.Rejected (SRS response_connect_reject); then close the socket."""
        self._check_alive()
        info = status("error", "NetConnection.Connect.Rejected", description)
        self.send_command(c.ON_STATUS, 0.0, None, info, csid=CSID_OVER_STREAM)

    def start_play(self) -> None:
        """StreamBegin, Play.Reset, Play.Start, |RtmpSampleAccess (no Data.Start: it confuses FFmpeg)."""
        self._expect_state(ServerState.PLAY_PENDING, "start_play")
        sid = self.stream_id
        self.send_user_control(UserControl.STREAM_BEGIN, sid)
        self.send_status(
            "status",
            "NetStream.Play.Reset",
            "Playing and resetting stream.",
            details="stream",
            clientid=CLIENT_ID,
        )
        self.send_status(
            "status", "NetStream.Play.Start", "Started playing stream.", details="stream", clientid=CLIENT_ID
        )
        self.send_data(c.SAMPLE_ACCESS, True, True)  # video, audio sample access (ossrs/srs#49)
        self._enter(ServerState.PLAYING)

    def accept_publish(self) -> None:
        """onStatus NetStream.Publish.Start (SrsRtmpServer::start_publishing, same for every client type)."""
        self._expect_state(ServerState.PUBLISH_PENDING, "accept_publish")
        self.send_status(
            "status", "NetStream.Publish.Start", "Started publishing stream.", clientid=CLIENT_ID
        )
        # An accepted publisher sends media: the full message size from now on.
        self._reader.max_message_size = self._max_message_size
        self._reader.max_buffered_bytes = 2 * self._max_message_size
        self._max_deferred_bytes = 2 * self._max_message_size
        self._enter(ServerState.PUBLISHING)

    def send_redirect(self, tc_url: str, url: str) -> None:
        """RTMP 302: onStatus Connect.Rejected with ``ex.redirect`` (tcUrl) and ``ex.redirect2`` (full URL).

        The next call from the client yields :class:`RedirectAnswered`; SRS waits 3 s for it, then closes.
        """
        self._check_alive()
        ex = {"code": 302.0, "redirect": tc_url, "redirect2": url}
        info = status("error", "NetConnection.Connect.Rejected", "RTMP 302 Redirect", ex=ex)
        self.send_command(c.ON_STATUS, 0.0, None, info, csid=CSID_OVER_STREAM)
        self.state = ServerState.REDIRECTED

    # ------------------------------------------------------------------ output helpers

    def send_status(self, level: str, code: str, description: str, **extra: Any) -> None:
        """onStatus on the media stream (SrsOnStatusCallPacket)."""
        info = status(level, code, description, **extra)
        self.send_command(c.ON_STATUS, 0.0, None, info, stream_id=self.stream_id, csid=CSID_OVER_STREAM)

    def send_data(
        self,
        name: str,
        *values: Any,
        timestamp: int = 0,
        stream_id: int | None = None,
        csid: int = CSID_OVER_STREAM,
    ) -> None:
        """An AMF0 data message (type 18) on the media stream."""
        sid = self.stream_id if stream_id is None else stream_id
        body = DataMessage(name, values).encode()
        self.send_message(MessageType.AMF0_DATA, body, csid=csid, stream_id=sid, timestamp=timestamp)

    def send_media(self, msg_type: int, timestamp: int, payload: bytes) -> None:
        """Audio/video/metadata to a player, on SRS's chunk stream for the type."""
        self.send_message(
            msg_type, payload, csid=media_csid(msg_type), stream_id=self.stream_id, timestamp=timestamp
        )

    # ------------------------------------------------------------------ internals

    def _fail(self, e: SrsError) -> None:
        self._failed = e
        self.state = ServerState.FAILED

    def _raise_deferred_error(self) -> None:
        err = self._deferred_error
        if err is not None:
            self._deferred_error = None
            raise err

    def _expect_state(self, state: ServerState, what: str) -> None:
        self._check_alive()
        if self.state is not state:
            raise LocalProtocolError(f"{what}() needs state {state.name}, session is {self.state.name}")

    def _enter(self, state: ServerState) -> None:
        """Leave a waiting state and process the messages held meanwhile."""
        self.state = state
        held, self._deferred = self._deferred, []
        self._deferred_bytes = 0
        try:
            for msg in held:
                self._on_message(msg, self._events)
        except SrsError as e:
            self._deferred_error = e

    def _on_message(self, msg: RawMessage, events: list[Event]) -> None:
        state = self.state
        if state in _WAITING_FOR_CALLER:
            self._deferred.append(msg)
            self._deferred_bytes += len(msg.payload)
            if len(self._deferred) > _MAX_DEFERRED or self._deferred_bytes > self._max_deferred_bytes:
                raise ProtocolError(
                    f"rtmp: peer sent {self._deferred_bytes} bytes while waiting for {state.name}",
                    ErrorCode.SYSTEM_PACKET_INVALID,
                )
            return
        t = msg.msg_type
        if state is ServerState.PUBLISHING and t not in _COMMAND_TYPES:
            self._on_publish_data(msg, events)
            return
        if t not in _COMMAND_TYPES or is_ffmpeg_timecode(msg.payload):
            return  # identification and playing only look at commands (SRS: "ignore message type")
        pkt = c.decode_command(Command.parse(msg.payload, amf3=t == MessageType.AMF3_COMMAND))
        if isinstance(pkt, c.Result):
            # Deviation: SRS fails the connection (ERROR_RTMP_NO_REQUEST) because it never sent a
            # request; an answer we did not ask for is harmless, so it is ignored.
            return
        handler = _HANDLERS.get(state)
        if handler is not None:
            handler(self, pkt, events)

    # --- AWAIT_CONNECT: expect_message<SrsConnectAppPacket>, others dropped

    def _on_await_connect(self, pkt: c.Packet, events: list[Event]) -> None:
        if not isinstance(pkt, c.ConnectApp):
            return
        obj = pkt.command_object
        tc_url = obj.get("tcUrl")
        if not isinstance(tc_url, str):
            raise ProtocolError("rtmp: invalid request without tcUrl", ErrorCode.RTMP_REQ_CONNECT)
        page_url = obj.get("pageUrl")
        swf_url = obj.get("swfUrl")
        encoding = obj.get("objectEncoding")
        self.tc_url = tc_url
        if isinstance(encoding, float):
            self.object_encoding = encoding
        events.append(
            ConnectRequested(
                pkt.transaction_id,
                tc_url,
                page_url if isinstance(page_url, str) else "",
                swf_url if isinstance(swf_url, str) else "",
                self.object_encoding,
                obj,
                pkt.args,
            )
        )
        self.state = ServerState.CONNECTING

    # --- IDENTIFY: SrsRtmpServer::identify_client

    def _on_identify(self, pkt: c.Packet, events: list[Event]) -> None:
        if isinstance(pkt, c.CreateStream):
            self._create_stream(pkt.transaction_id, MAX_CREATE_STREAM_DEPTH)
        elif isinstance(pkt, c.FmleStart):
            self._identified(ClientType.FMLE_PUBLISH, pkt.stream_name)
            self._fmle_start_result(pkt.transaction_id, 0)
            self.state = ServerState.FMLE_FCPUBLISH
        elif isinstance(pkt, c.Play):
            self._play(pkt, events)
        elif isinstance(pkt, c.Call):
            play2 = c.play2_as_play(pkt) if pkt.name == c.PLAY2 else None
            if play2 is not None:
                self._play(play2, events)
                return
            # Unknown calls get _result(null, null) whatever the transaction id (e.g. Haivision's
            # _checkbw, then we keep identifying; ossrs/srs#844).
            self.send_command(c.RESULT, pkt.transaction_id, None, None)

    # --- IDENTIFY_STREAM: SrsRtmpServer::identify_create_stream_client

    def _on_identify_stream(self, pkt: c.Packet, events: list[Event]) -> None:
        if isinstance(pkt, c.Play):
            self._play(pkt, events)
        elif isinstance(pkt, c.Publish):
            self._identified(ClientType.FLASH_PUBLISH, pkt.stream_name)
            self._publish_requested(pkt, events)
        elif isinstance(pkt, c.CreateStream):
            self._create_stream(pkt.transaction_id, self._depth - 1)
        elif isinstance(pkt, c.FmleStart):
            self._identified(ClientType.HAIVISION_PUBLISH, pkt.stream_name)
            self._fmle_start_result(pkt.transaction_id, 0)
            self.state = ServerState.HAIVISION_PUBLISH
        elif isinstance(pkt, c.Call) and pkt.name == c.PLAY2:
            play2 = c.play2_as_play(pkt)
            if play2 is not None:
                self._play(play2, events)
        # anything else (getStreamLength, _checkbw, ...) is ignored here, as SRS does

    def _create_stream(self, transaction_id: float, depth: int) -> None:
        if depth <= 0:
            raise ProtocolError("rtmp: create stream recursive depth", ErrorCode.RTMP_CREATE_STREAM_DEPTH)
        self._depth = depth
        self.send_command(c.RESULT, transaction_id, None, float(self.stream_id))
        self.state = ServerState.IDENTIFY_STREAM

    def _identified(self, client_type: ClientType, stream_name: str) -> None:
        self.client_type = client_type
        self.stream_name = stream_name

    def _play(self, pkt: c.Play, events: list[Event]) -> None:
        self._identified(ClientType.PLAY, pkt.stream_name)
        self.paused = False
        events.append(PlayRequested(pkt.transaction_id, pkt.stream_name, pkt.start, pkt.duration, pkt.reset))
        self.state = ServerState.PLAY_PENDING

    def _publish_requested(self, pkt: c.Publish, events: list[Event]) -> None:
        assert self.client_type is not None
        events.append(
            PublishRequested(pkt.transaction_id, self.stream_name, pkt.publish_type, self.client_type)
        )
        self.state = ServerState.PUBLISH_PENDING

    def _fmle_start_result(self, transaction_id: float, stream_id: int) -> None:
        # SrsFMLEStartResPacket: _result(tid, null, undefined)
        self.send_command(c.RESULT, transaction_id, None, UNDEFINED, stream_id=stream_id)

    def _on_fc_publish(self) -> None:
        # onFCPublish carries only code and description (no level), on the media stream.
        info = {"code": "NetStream.Publish.Start", "description": "Started publishing stream."}
        self.send_command(c.ON_FC_PUBLISH, 0.0, None, info, stream_id=self.stream_id, csid=CSID_OVER_STREAM)

    # --- start_fmle_publish / start_haivision_publish: expect_message<...>, others dropped

    def _on_fmle_fcpublish(self, pkt: c.Packet, events: list[Event]) -> None:
        if isinstance(pkt, c.FmleStart):
            self._fmle_start_result(pkt.transaction_id, 0)
            self.state = ServerState.FMLE_CREATE_STREAM

    def _on_fmle_create_stream(self, pkt: c.Packet, events: list[Event]) -> None:
        if isinstance(pkt, c.CreateStream):
            self.send_command(c.RESULT, pkt.transaction_id, None, float(self.stream_id))
            self.state = ServerState.FMLE_PUBLISH

    def _on_expect_publish(self, pkt: c.Packet, events: list[Event]) -> None:
        if isinstance(pkt, c.Publish):
            # SRS compat: the stream name stays the one of releaseStream / FCPublish.
            self._on_fc_publish()
            self._publish_requested(pkt, events)

    # --- PLAYING: SrsRtmpConn::process_play_control_msg

    def _on_playing(self, pkt: c.Packet, events: list[Event]) -> None:
        if isinstance(pkt, c.CloseStream):
            # jwplayer/flowplayer send closeStream as pause (ossrs/srs#6): stop, wait for a new play.
            self._stream_closed(events)
        elif isinstance(pkt, c.Call):
            if pkt.transaction_id > 0:  # zero means no response wanted (ossrs/srs#106)
                self.send_command(c.RESULT, pkt.transaction_id, None, None)
            if pkt.name == c.DELETE_STREAM:
                self._stream_closed(events)  # extension: SRS keeps playing until the socket closes
        elif isinstance(pkt, c.Pause):
            self._pause(pkt, events)

    def _pause(self, pkt: c.Pause, events: list[Event]) -> None:
        sid = self.stream_id
        if pkt.paused:
            self.send_status("status", "NetStream.Pause.Notify", "Paused stream.")
            self.send_user_control(UserControl.STREAM_EOF, sid)
        else:
            self.send_status("status", "NetStream.Unpause.Notify", "Unpaused stream.")
            self.send_user_control(UserControl.STREAM_BEGIN, sid)
        self.paused = pkt.paused
        events.append(PauseRequested(pkt.paused, pkt.time_ms))

    def _stream_closed(self, events: list[Event]) -> None:
        events.append(StreamClosed())
        self.client_type = None
        self.paused = False
        self.state = ServerState.IDENTIFY

    # --- PUBLISHING: SrsRtmpConn::handle_publish_message

    def _on_publishing(self, pkt: c.Packet, events: list[Event]) -> None:
        if self.client_type is ClientType.FLASH_PUBLISH:
            self._stream_closed(events)  # for Flash, any command ends the publish (republish)
        elif isinstance(pkt, c.FmleStart):
            self._fmle_unpublish(pkt.transaction_id)
            events.append(UnpublishRequested(pkt.transaction_id))
            self.client_type = None
            self.state = ServerState.IDENTIFY
        elif isinstance(pkt, c.CloseStream) or (isinstance(pkt, c.Call) and pkt.name == c.DELETE_STREAM):
            self._stream_closed(events)  # extension: SRS ignores these and waits for the socket to close

    def _fmle_unpublish(self, transaction_id: float) -> None:
        sid = self.stream_id
        info = {"code": "NetStream.Unpublish.Success", "description": "Stop publishing stream."}
        self.send_command(c.ON_FC_UNPUBLISH, 0.0, None, info, stream_id=sid, csid=CSID_OVER_STREAM)
        self._fmle_start_result(transaction_id, sid)
        self.send_status(
            "status", "NetStream.Unpublish.Success", "Stream is now unpublished", clientid=CLIENT_ID
        )

    def _on_publish_data(self, msg: RawMessage, events: list[Event]) -> None:
        t = msg.msg_type
        if t in _MEDIA_TYPES:
            self._media_events(msg, events)
        elif t in _DATA_TYPES and not is_ffmpeg_timecode(msg.payload):
            outer, meta = self._metadata_event(msg)
            # SRS only treats @setDataFrame(...) and onMetaData as metadata; other data is dropped.
            if outer == SET_DATA_FRAME or outer == c.ON_METADATA:
                events.append(meta)

    # --- REDIRECTED: expect_message<SrsCallPacket>

    def _on_redirected(self, pkt: c.Packet, events: list[Event]) -> None:
        if isinstance(pkt, c.Call):
            args = pkt.command.args
            events.append(RedirectAnswered(bool(args) and isinstance(args[0], str)))


_Handler = Callable[[ServerSession, c.Packet, list[Event]], None]
_HANDLERS: dict[ServerState, _Handler] = {
    ServerState.AWAIT_CONNECT: ServerSession._on_await_connect,
    ServerState.IDENTIFY: ServerSession._on_identify,
    ServerState.IDENTIFY_STREAM: ServerSession._on_identify_stream,
    ServerState.FMLE_FCPUBLISH: ServerSession._on_fmle_fcpublish,
    ServerState.FMLE_CREATE_STREAM: ServerSession._on_fmle_create_stream,
    ServerState.FMLE_PUBLISH: ServerSession._on_expect_publish,
    ServerState.HAIVISION_PUBLISH: ServerSession._on_expect_publish,
    ServerState.PLAYING: ServerSession._on_playing,
    ServerState.PUBLISHING: ServerSession._on_publishing,
    ServerState.REDIRECTED: ServerSession._on_redirected,
}
