#!/usr/bin/env bash
# Install the Debian tools the tests drive when they are missing: ffmpeg/ffprobe (interop), the
# openssl CLI (self-signed certificates made at test time), curl (HTTPS API interop test), libsrt +
# srt-tools (SRT server and its interop tests) and
# GStreamer (HLS / HTTP-TS played by a second client family), Chromium + hls.js (HLS in a browser).
# Needs root (CI runs as root); otherwise prints what to install and fails.
set -euo pipefail
# --runtime (`make run`): only what the server itself loads, libsrt for srt_server; never fails
# (without it the server logs one line and runs without SRT).
libsrt() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true; } | grep -E "$1" >/dev/null; }
if [ "${1:-}" = "--runtime" ]; then
  if ! libsrt 'libsrt(-gnutls)?\.so\.1\.5 '; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing libsrt1.5-openssl (SRT)" >&2
      { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libsrt1.5-openssl \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libsrt1.5-openssl; }; } \
        >/dev/null 2>&1 || echo "could not install libsrt1.5-openssl: SRT will be off" >&2
    else
      echo "SRT needs libsrt: sudo apt-get install -y libsrt1.5-openssl (the server runs without SRT until then)" >&2
    fi
  fi
  exit 0
fi
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
# SRT (srt_server): the reference libsrt, loaded by ctypes at run time (src/srs/server/srt/libsrt.py),
# and srt-live-transmit (interop tests). libsrt-gnutls (an ffmpeg dependency) is the fallback library.
libsrt 'libsrt\.so\.1\.5 ' || need+=(libsrt1.5-openssl)
command -v srt-live-transmit >/dev/null 2>&1 || need+=(srt-tools)
# GStreamer (the second client family of the HLS / HTTP-TS interop tests): tools, souphttpsrc
# (good), hlsdemux/tsdemux (bad), avdec_h264/avdec_aac (libav).
command -v gst-launch-1.0 >/dev/null 2>&1 || need+=(gstreamer1.0-tools)
if command -v gst-inspect-1.0 >/dev/null 2>&1; then
  gst-inspect-1.0 --exists decodebin || need+=(gstreamer1.0-plugins-base)
  gst-inspect-1.0 --exists souphttpsrc || need+=(gstreamer1.0-plugins-good)
  gst-inspect-1.0 --exists rtspsrc || need+=(gstreamer1.0-plugins-good)  # RTSP interop (rtp*depay too)
  gst-inspect-1.0 --exists hlsdemux || need+=(gstreamer1.0-plugins-bad)
  gst-inspect-1.0 --exists avdec_h264 || need+=(gstreamer1.0-libav)
else
  need+=(gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)
fi
# hls.js in headless Chromium (tests/support/browser.py): Debian's chromium, driven by Python
# playwright through executable_path (never `playwright install`); hls.js from npm (below).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${need[*]} - run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ca-certificates "${need[@]}" >/dev/null
fi
# hls.js, pinned by tests/web/package-lock.json, into tests/web/node_modules (gitignored).
web="$(dirname "$0")/../tests/web"
if [ ! -f "$web/node_modules/hls.js/dist/hls.js" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
