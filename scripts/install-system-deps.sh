#!/usr/bin/env bash
# Install the Debian tools the tests drive when they are missing: ffmpeg/ffprobe (interop), the
# openssl CLI (self-signed certificates made at test time) and curl (HTTPS API interop test).
# Needs root (CI runs as root); otherwise prints what to install and fails.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${need[*]} - run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates "${need[@]}" >/dev/null
