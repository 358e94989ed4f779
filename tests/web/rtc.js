// WHIP publish / WHEP play in the browser, for tests (tests/support/browser.py drives it).
// No external scripts; served from http://127.0.0.1 (getUserMedia needs a trustworthy origin).
// window.pc is the RTCPeerConnection; srsRtc.publish(url, opts) / srsRtc.play(url, opts) signal
// (POST application/sdp, 201 + Location, non-trickle: the offer carries every candidate) and
// resolve to {status, location, answer, codecs}; srsRtc.stats() summarises getStats();
// srsRtc.stop() DELETEs the Location and closes.
(function () {
  "use strict";
  const log = [];
  let location_ = null;
  window.pc = null;

  function note(msg) {
    log.push(Date.now() + " " + msg);
    if (log.length > 200) log.shift();
  }

  function prefer(transceiver, kind, codec) {
    if (!codec || !RTCRtpReceiver.getCapabilities) return;
    const caps = RTCRtpReceiver.getCapabilities(kind).codecs;
    const want = caps.filter((c) => c.mimeType.toLowerCase() === (kind + "/" + codec).toLowerCase());
    if (!want.length) throw new Error("no " + kind + "/" + codec + " in this browser");
    // H.264: packetization-mode=1 first (what SRS answers)
    want.sort((a, b) => /packetization-mode=1/.test(b.sdpFmtpLine || "") - /packetization-mode=1/.test(a.sdpFmtpLine || ""));
    transceiver.setCodecPreferences(want);
  }

  function gathered(pc, ms) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(t); resolve(); }
      });
    });
  }

  async function negotiate(pc, url) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 3000);
    const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/sdp"}, body: pc.localDescription.sdp});
    const answer = await r.text();
    if (r.status !== 201) throw new Error("signalling: " + r.status + " " + answer.slice(0, 300));
    const loc = r.headers.get("Location");
    location_ = loc ? new URL(loc, new URL(url, window.location.href)).href : null;
    await pc.setRemoteDescription({type: "answer", sdp: answer});
    const codecs = {};
    for (const m of answer.split(/\r?\n(?=m=)/).slice(1)) {
      const kind = m.slice(2, 7);
      const pt = (m.match(/^m=\S+ \d+ \S+ (\d+)/) || [])[1];
      const rtpmap = pt && m.match(new RegExp("a=rtpmap:" + pt + " ([^/\\r\\n]+)"));
      if (rtpmap) codecs[kind] = kind + "/" + rtpmap[1];
    }
    return {status: r.status, location: location_, answer: answer, codecs: codecs};
  }

  function newPc() {
    const pc = new RTCPeerConnection({bundlePolicy: "max-bundle", rtcpMuxPolicy: "require"});
    pc.addEventListener("connectionstatechange", () => note("connection " + pc.connectionState));
    pc.addEventListener("iceconnectionstatechange", () => note("ice " + pc.iceConnectionState));
    window.pc = pc;
    return pc;
  }

  async function publish(url, opts) {
    opts = Object.assign({audio: true, video: true, codec: "H264"}, opts || {});
    const stream = await navigator.mediaDevices.getUserMedia({audio: opts.audio, video: opts.video ? {width: 320, height: 240} : false});
    const pc = newPc();
    for (const track of stream.getTracks()) {
      const t = pc.addTransceiver(track, {direction: "sendonly", streams: [stream]});
      if (track.kind === "video") prefer(t, "video", opts.codec);
    }
    return negotiate(pc, url);
  }

  async function play(url, opts) {
    opts = Object.assign({codec: "H264"}, opts || {});
    const pc = newPc();
    pc.addTransceiver("audio", {direction: "recvonly"});
    prefer(pc.addTransceiver("video", {direction: "recvonly"}), "video", opts.codec);
    const video = document.getElementById("video");
    const stream = new MediaStream();
    pc.addEventListener("track", (e) => { stream.addTrack(e.track); video.srcObject = stream; });
    return negotiate(pc, url);
  }

  async function stats() {
    const pc = window.pc;
    const out = {connectionState: pc ? pc.connectionState : null, iceConnectionState: pc ? pc.iceConnectionState : null,
                 inbound: [], outbound: [], candidatePair: null, log: log.slice(-30)};
    if (!pc) return out;
    const report = await pc.getStats();
    const codec = (id) => { const c = id && report.get(id); return c ? c.mimeType : null; };
    report.forEach((s) => {
      if (s.type === "inbound-rtp") {
        out.inbound.push({kind: s.kind, codec: codec(s.codecId), packetsReceived: s.packetsReceived || 0,
          packetsLost: s.packetsLost || 0, framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0, totalSamplesReceived: s.totalSamplesReceived || 0, nackCount: s.nackCount || 0,
          audioLevel: s.audioLevel || 0, totalAudioEnergy: s.totalAudioEnergy || 0});
      } else if (s.type === "outbound-rtp") {
        out.outbound.push({kind: s.kind, codec: codec(s.codecId), packetsSent: s.packetsSent || 0,
          framesEncoded: s.framesEncoded || 0, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0,
          nackCount: s.nackCount || 0, pliCount: s.pliCount || 0});
      } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
        const l = report.get(s.localCandidateId), r = report.get(s.remoteCandidateId);
        out.candidatePair = {local: l && (l.address + ":" + l.port + "/" + l.protocol),
                             remote: r && (r.address + ":" + r.port + "/" + r.protocol),
                             localProtocol: l ? l.protocol : null, remoteProtocol: r ? r.protocol : null,
                             localTcpType: l ? (l.tcpType || null) : null, remoteTcpType: r ? (r.tcpType || null) : null,
                             availableOutgoingBitrate: s.availableOutgoingBitrate || 0};
      }
    });
    return out;
  }

  async function stop() {
    let status = null;
    if (location_) {
      try { status = (await fetch(location_, {method: "DELETE"})).status; } catch (e) { note("DELETE " + e); }
    }
    if (window.pc) window.pc.close();
    return status;
  }

  window.srsRtc = {publish: publish, play: play, stats: stats, stop: stop, log: log};
})();
