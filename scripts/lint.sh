#!/usr/bin/env bash
# make lint: the Swift sources against .swift-format (swift-format ships with the toolchain), then
# the lines it cannot break by itself (string literals, comments) that still pass 120 columns.
# `make format` rewrites the sources in place; long literals and comments are split by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

swift=${SWIFT:-swift}
python=${PYTHON:-python3}
paths=(Package.swift Sources Tests Fuzz Benchmarks/Package.swift Benchmarks/Benchmarks)

case ${1:-lint} in
    format)
        "$swift" format format --in-place --recursive --parallel "${paths[@]}"
        exit 0
        ;;
    lint) ;;
    *) echo "usage: scripts/lint.sh [lint|format]" >&2; exit 64 ;;
esac

status=0
"$swift" format lint --strict --recursive --parallel "${paths[@]}" || status=1
# Columns are characters, as swift-format counts them (awk would count bytes).
find "${paths[@]}" -name '*.swift' -print0 | xargs -0 "$python" -c '
import sys
long = [f"{path}:{number}: {len(line)} columns"
        for path in sys.argv[1:]
        for number, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1) if len(line) > 120]
print("\n".join(long)) if long else None
sys.exit(1 if long else 0)
' || { echo "lint: lines over 120 columns; split them (swift-format cannot split a string literal or a comment)" >&2; status=1; }
[ "$status" -eq 0 ] && echo "lint: clean" >&2
exit "$status"
