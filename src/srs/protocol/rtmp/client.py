"""The client side of an RTMP connection (sans-IO), for our tools: tests, the load tool, forward/edge.

It speaks like SRS's ``SrsRtmpClient`` and FFmpeg: complex handshake (schema 1) by default, a
``connect`` with SRS's edge properties, and the publish/play command sequences:

* FMLE publish (FFmpeg, OBS): releaseStream, FCPublish, createStream, then publish once the stream
  id is known;
* Flash publish: createStream, then publish;
* Haivision publish: createStream, then FCPublish and publish;
* play: createStream, then play and SetBufferLength.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from srs.format.amf0 import EcmaArray
from srs.protocol.rtmp import commands as c
from srs.protocol.rtmp.chunk import DEFAULT_MAX_MESSAGE_SIZE, RawMessage
from srs.protocol.rtmp.connection import RtmpConnection
from srs.protocol.rtmp.events import (
    ClientType,
    CommandReceived,
    Connected,
    Event,
    HandshakeCompleted,
    ResultReceived,
    StatusReceived,
    StreamCreated,
    UserControlReceived,
)
from srs.protocol.rtmp.handshake import ClientHandshake
from srs.protocol.rtmp.message import (
    CSID_OVER_CONNECTION2,
    CSID_OVER_STREAM,
    SET_DATA_FRAME,
    Command,
    DataMessage,
    MessageType,
    UserControl,
    UserControlMessage,
    is_ffmpeg_timecode,
    media_csid,
)
from srs.util.errors import LocalProtocolError, SrsError

FLASH_VERSION = "WIN 15,0,0,239"  # what SRS's edge/forward client announces
DEFAULT_WINDOW_ACK_SIZE = 2_500_000
_COMMAND_TYPES = frozenset({MessageType.AMF0_COMMAND, MessageType.AMF3_COMMAND})
_DATA_TYPES = frozenset({MessageType.AMF0_DATA, MessageType.AMF3_DATA})
_MEDIA_TYPES = frozenset({MessageType.AUDIO, MessageType.VIDEO, MessageType.AGGREGATE})


def app_from_tc_url(tc_url: str) -> str:
    """``rtmp://host:port/live/sub?x`` -> ``live/sub?x`` (the app as FFmpeg puts it in connect)."""
    parts = urlsplit(tc_url)
    app = parts.path.lstrip("/")
    return app + ("?" + parts.query if parts.query else "")


class ClientSession(RtmpConnection):
    """One client-side RTMP connection; C0+C1 are queued at construction."""

    def __init__(
        self,
        *,
        random_bytes: Callable[[int], bytes],
        epoch_ms: int,
        complex_handshake: bool = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        in_ack_size: int = 0,
    ) -> None:
        super().__init__(max_message_size=max_message_size, in_ack_size=in_ack_size)
        self._hs: ClientHandshake | None = ClientHandshake(
            random_bytes=random_bytes, epoch_ms=epoch_ms, complex_handshake=complex_handshake
        )
        self._out.append(self._hs.data_to_send())
        self.handshake_done = False
        self.connected = False
        self.stream_id: int | None = None
        self.publishing = False
        self.playing = False
        self._next_tid = 2.0  # connect is 1, as FFmpeg and SRS send it
        self._requests: dict[float, str] = {}  # transaction id -> command (SRS's "requests" map)
        self._after_create: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes) -> list[Event]:
        self._check_alive()
        events: list[Event] = []
        try:
            self._bytes_received += len(data)
            hs = self._hs
            if hs is not None:
                hs.receive_data(data)
                self._out.append(hs.data_to_send())
                if not hs.done:
                    return events
                self._hs = None
                self.handshake_done = True
                events.append(HandshakeCompleted(None, hs.complex))
                data = hs.leftover
            if data:
                self._feed_chunks(data, events)
        except SrsError as e:
            self._failed = e
            raise
        return events

    def _on_message(self, msg: RawMessage, events: list[Event]) -> None:
        t = msg.msg_type
        if t in _MEDIA_TYPES:
            self._media_events(msg, events)
        elif t in _DATA_TYPES:
            if not is_ffmpeg_timecode(msg.payload):
                events.append(self._metadata_event(msg)[1])
        elif t in _COMMAND_TYPES:
            self._on_command(
                Command.parse(msg.payload, amf3=t == MessageType.AMF3_COMMAND), msg.stream_id, events
            )

    def _on_command(self, cmd: Command, stream_id: int, events: list[Event]) -> None:
        if cmd.name in (c.RESULT, c.ERROR):
            error = cmd.name == c.ERROR
            request = self._requests.pop(cmd.transaction_id, None)
            if request == c.CONNECT and not error:
                info = cmd.args[0] if cmd.args and isinstance(cmd.args[0], dict) else {}
                self.connected = True
                events.append(Connected(info, cmd.command_object))
                return
            if request == c.CREATE_STREAM and not error and cmd.args and isinstance(cmd.args[0], float):
                self.stream_id = int(cmd.args[0])
                events.append(StreamCreated(self.stream_id))
                todo, self._after_create = self._after_create, []
                for action in todo:
                    action()
                return
            events.append(ResultReceived(cmd.transaction_id, cmd.command_object, cmd.args, error))
        elif cmd.name == c.ON_STATUS:
            info = cmd.args[0] if cmd.args and isinstance(cmd.args[0], dict) else {}
            code = info.get("code")
            if code == "NetStream.Publish.Start":
                self.publishing = True
            elif code == "NetStream.Play.Start":
                self.playing = True
            elif code == "NetStream.Unpublish.Success":
                self.publishing = False
            events.append(StatusReceived(info, stream_id))
        else:
            events.append(CommandReceived(cmd, stream_id))

    def _on_user_control(self, uc: UserControlMessage, events: list[Event]) -> None:
        if uc.event_type not in (UserControl.PING_REQUEST, UserControl.PING_RESPONSE):
            events.append(UserControlReceived(uc.event_type, uc.value, uc.extra))

    # ------------------------------------------------------------------ commands

    def _ready(self, what: str) -> None:
        self._check_alive()
        if not self.handshake_done:
            raise LocalProtocolError(f"{what}() before the handshake completed")

    def _tid(self, request: str | None = None) -> float:
        tid = self._next_tid
        self._next_tid += 1
        if request is not None:
            self._requests[tid] = request
        return tid

    def _media_sid(self) -> int:
        return self.stream_id if self.stream_id is not None else 0

    def connect(
        self,
        tc_url: str,
        *,
        app: str | None = None,
        args: dict[str, Any] | None = None,
        window_ack_size: int = DEFAULT_WINDOW_ACK_SIZE,
        **props: Any,
    ) -> float:
        """Send ``connect`` (transaction id 1) with SRS's client properties; ``props`` add or override."""
        self._ready("connect")
        obj: dict[str, Any] = {
            "app": app_from_tc_url(tc_url) if app is None else app,
            "flashVer": FLASH_VERSION,
            "swfUrl": "",
            "tcUrl": tc_url,
            "fpad": False,
            "capabilities": 239.0,
            "audioCodecs": 3575.0,
            "videoCodecs": 252.0,
            "videoFunction": 1.0,
            "pageUrl": "",
            "objectEncoding": 0.0,
        }
        obj.update(props)
        self._requests[1.0] = c.CONNECT
        extra = (args,) if args is not None else ()
        self.send_command(c.CONNECT, 1.0, obj, *extra)
        if window_ack_size:
            self.set_window_ack_size(window_ack_size)
        return 1.0

    def create_stream(self) -> float:
        self._ready("create_stream")
        tid = self._tid(c.CREATE_STREAM)
        self.send_command(c.CREATE_STREAM, tid, None)
        return tid

    def call(self, name: str, command_object: Any = None, *args: Any, stream_id: int = 0) -> float:
        """Any call expecting an answer (``_checkbw``, ``getStreamLength``...); returns its transaction id."""
        self._ready("call")
        tid = self._tid(name)
        csid = CSID_OVER_STREAM if stream_id else 3
        self.send_command(name, tid, command_object, *args, stream_id=stream_id, csid=csid)
        return tid

    def publish(
        self,
        stream_name: str,
        *,
        client_type: ClientType = ClientType.FMLE_PUBLISH,
        publish_type: str = "live",
    ) -> None:
        """Start publishing ``stream_name`` with the command sequence of ``client_type``."""
        self._ready("publish")

        def send_publish() -> None:
            self.send_command(
                c.PUBLISH,
                self._tid(),
                None,
                stream_name,
                publish_type,
                stream_id=self._media_sid(),
                csid=CSID_OVER_STREAM,
            )

        if client_type is ClientType.FMLE_PUBLISH:
            self.send_command(c.RELEASE_STREAM, self._tid(c.RELEASE_STREAM), None, stream_name)
            self.send_command(c.FC_PUBLISH, self._tid(c.FC_PUBLISH), None, stream_name)
            self._after_create.append(send_publish)
        elif client_type is ClientType.HAIVISION_PUBLISH:

            def haivision() -> None:
                self.send_command(c.FC_PUBLISH, self._tid(c.FC_PUBLISH), None, stream_name)
                send_publish()

            self._after_create.append(haivision)
        elif client_type is ClientType.FLASH_PUBLISH:
            self._after_create.append(send_publish)
        else:
            raise LocalProtocolError(f"not a publish client type: {client_type}")
        self.create_stream()

    def play(
        self,
        stream_name: str,
        *,
        start: float = -2.0,
        duration: float = -1.0,
        reset: bool = True,
        buffer_ms: int = 1000,
    ) -> None:
        """Play ``stream_name`` (createStream first unless a stream exists), then SetBufferLength."""
        self._ready("play")

        def send_play() -> None:
            args: list[Any] = [stream_name]
            if start != -2.0 or duration != -1.0 or not reset:
                args.append(float(start))
            if duration != -1.0 or not reset:
                args.append(float(duration))
            if not reset:
                args.append(False)
            sid = self._media_sid()
            self.send_command(c.PLAY, self._tid(), None, *args, stream_id=sid, csid=CSID_OVER_STREAM)
            self.send_user_control(UserControl.SET_BUFFER_LENGTH, sid, buffer_ms)

        if self.stream_id is None:
            self._after_create.append(send_play)
            self.create_stream()
        else:
            send_play()

    def pause(self, paused: bool, time_ms: float = 0.0) -> None:
        self._ready("pause")
        self.send_command(
            c.PAUSE, 0.0, None, paused, float(time_ms), stream_id=self._media_sid(), csid=CSID_OVER_STREAM
        )

    def unpublish(self, stream_name: str) -> float:
        """FCUnpublish, as FFmpeg sends before deleteStream."""
        self._ready("unpublish")
        tid = self._tid(c.FC_UNPUBLISH)
        self.send_command(c.FC_UNPUBLISH, tid, None, stream_name)
        return tid

    def close_stream(self) -> None:
        self._ready("close_stream")
        self.playing = False
        self.send_command(c.CLOSE_STREAM, 0.0, None, stream_id=self._media_sid(), csid=CSID_OVER_STREAM)

    def delete_stream(self) -> float:
        self._ready("delete_stream")
        tid = self._tid(c.DELETE_STREAM)
        self.send_command(c.DELETE_STREAM, tid, None, float(self._media_sid()))
        self.playing = self.publishing = False
        return tid

    # ------------------------------------------------------------------ media

    def send_media(self, msg_type: int, timestamp: int, payload: bytes) -> None:
        """Audio (8), video (9) or any message on the created stream."""
        self.send_message(
            msg_type, payload, csid=media_csid(msg_type), stream_id=self._media_sid(), timestamp=timestamp
        )

    def send_data(self, name: str, *values: Any, timestamp: int = 0) -> None:
        body = DataMessage(name, values).encode()
        self.send_message(
            MessageType.AMF0_DATA,
            body,
            csid=CSID_OVER_CONNECTION2,
            stream_id=self._media_sid(),
            timestamp=timestamp,
        )

    def send_metadata(
        self, metadata: dict[str, Any], *, timestamp: int = 0, set_data_frame: bool = True
    ) -> None:
        """``@setDataFrame("onMetaData", ecma-array)`` as FFmpeg/OBS send it (or bare ``onMetaData``)."""
        arr = metadata if isinstance(metadata, EcmaArray) else EcmaArray(metadata)
        if set_data_frame:
            self.send_data(SET_DATA_FRAME, c.ON_METADATA, arr, timestamp=timestamp)
        else:
            self.send_data(c.ON_METADATA, arr, timestamp=timestamp)
