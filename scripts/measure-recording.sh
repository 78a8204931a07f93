#!/usr/bin/env bash
# Measures checksum throughput and the ways of reading a recording (Benchmarks/RecordingIO), with
# alternating trials; docs/PERFORMANCE.md ("Reading recordings") records what it showed.
#
#   scripts/measure-recording.sh [RECORDING...]     (TRIALS=7 by default)
#
# Make a recording of SSD300-sized batches to read with, e.g.
#   lossd synth -o /tmp/ssd300.lossrec --count 16 --batch 32 --boxes 8732 --classes 21
# Compiles the program with the module sources it needs, optimized, into .build/measure/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/measure
mkdir -p "$out"
flags=(-swift-version 6 -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault
       -O -parse-as-library -I "$out" -I Sources/CCRC32C/include)
clang -O2 -I Sources/CCRC32C/include -c Sources/CCRC32C/crc32c.c -o "$out/crc32c.o"
swiftc "${flags[@]}" -module-name Checksums -emit-module -emit-module-path "$out/Checksums.swiftmodule" \
    -emit-library -static -o "$out/libChecksums.a" Sources/Checksums/*.swift
swiftc "${flags[@]}" -module-name SSDLoss -emit-module -emit-module-path "$out/SSDLoss.swiftmodule" \
    -emit-library -static -o "$out/libSSDLoss.a" Sources/SSDLoss/*.swift
swiftc "${flags[@]}" -enable-testing -module-name LossWire -emit-module -emit-module-path "$out/LossWire.swiftmodule" \
    -emit-library -static -o "$out/libLossWire.a" $(find Sources/LossWire -name '*.swift' | sort)
swiftc "${flags[@]/-parse-as-library}" -module-name RecordingIO Benchmarks/RecordingIO/main.swift \
    "$out/libLossWire.a" "$out/libSSDLoss.a" "$out/libChecksums.a" "$out/crc32c.o" -o "$out/recording-io"
"$out/recording-io" "$@"
