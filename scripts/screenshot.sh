#!/bin/sh
# make screenshot: renders the dashboard of a short live run with headless Chromium to a PNG.
#
# Starts `lossd aggregate` on free loopback ports, feeds it a few seconds of loss records
# (scripts/screenshot_feed.py, pyzmq), then has Chromium load GET / and save a screenshot, in the
# light theme and in the dark one. Needs Debian's chromium package (not part of CI):
#   apt-get install chromium
#
# Environment: LOSSD_BIN (default .build/debug/lossd), PYTHON (python3), OUT (a folder, default
# .build/screenshots), CHROMIUM (default: chromium, chromium-browser or google-chrome on PATH).
set -eu

LOSSD_BIN=${LOSSD_BIN:-.build/debug/lossd}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-.build/screenshots}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
if [ -z "$CHROMIUM" ]; then
    echo "screenshot: no chromium on PATH; install it with: apt-get install chromium" >&2
    exit 1
fi
[ -x "$LOSSD_BIN" ] || { echo "screenshot: $LOSSD_BIN is missing; run swift build first" >&2; exit 1; }
mkdir -p "$OUT"
work=$(mktemp -d /tmp/lossd-shot.XXXXXX)
ports=$("$PYTHON" -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
http_port=${ports% *}
input_port=${ports#* }
"$LOSSD_BIN" aggregate --input "@tcp://127.0.0.1:$input_port" --http "127.0.0.1:$http_port" \
    --state "$work/state.json" --log-level warning >"$work/aggregate.log" 2>&1 &
lossd_pid=$!
trap 'kill "$lossd_pid" 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM
i=0
until "$PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$http_port/healthz', timeout=1)" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "screenshot: lossd aggregate did not start:" >&2; cat "$work/aggregate.log" >&2; exit 1; }
    sleep 0.1
done
"$PYTHON" scripts/screenshot_feed.py "tcp://127.0.0.1:$input_port" --seconds "${SECONDS_OF_RUN:-4}"
sleep 0.5
url="http://127.0.0.1:$http_port/?refresh=0"
shoot() {
    # $1: output file; the rest: extra flags.
    file=$1
    shift
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --user-data-dir="$work/profile" --window-size=1440,1500 "$@" --screenshot="$file" "$url" \
        >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; exit 1; }
    echo "wrote $file"
}
shoot "$OUT/dashboard.png"
shoot "$OUT/dashboard-dark.png" --force-dark-mode --blink-settings=preferredColorScheme=0
kill "$lossd_pid"
wait "$lossd_pid" 2>/dev/null || true
"$LOSSD_BIN" report "$work/state.json" -o "$OUT/report.html"
