#!/usr/bin/env bash
# Builds and runs lossd's libFuzzer targets (docs/TESTING.md, "Fuzzing").
#
#   scripts/fuzz.sh [build|run] [decoder|recording ...]
#
# build: compiles SSDLoss and LossWire (which holds the whole per-batch path, BatchProcessor
#        included) as static libraries, then each target against them, with
#        `swiftc -sanitize=fuzzer,address` (FUZZ_SANITIZERS overrides), into .build/fuzz/;
#        skipped when up to date.
# run:   (the default) builds, writes the seeds (Fuzz/make_seeds.py), then runs each target for
#        FUZZ_SECONDS seconds (default 30). New interesting inputs collect in .build/fuzz/corpus/TARGET;
#        an input that crashes is written to Fuzz/crashers/TARGET/ (commit it: every later run, and
#        the Swift tests, replay it). Exits non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-run}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decoder recording)
seconds=${FUZZ_SECONDS:-30}
sanitizers=${FUZZ_SANITIZERS:-fuzzer,address}
python=${PYTHON:-python3}
out=.build/fuzz
mkdir -p "$out/modules" "$out/lib"

flags=(-swift-version 6 -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault
       -O -g -sanitize="$sanitizers" -parse-as-library -use-ld=lld -I "$out/modules" -I Sources/CCRC32C/include
       -I Sources/CLossKernels/include)
# C targets get the same sanitizers; libFuzzer's main comes from the Swift link.
c_flags=(-O2 -g -fsanitize="${sanitizers//fuzzer/fuzzer-no-link}")

# Whether $1 is missing or older than any of the remaining files (or this script).
stale() {
    local target=$1
    shift
    [ -e "$target" ] || return 0
    local file
    for file in "$@" "$0"; do
        [ "$file" -nt "$target" ] && return 0
    done
    return 1
}

# A static library and module of one Sources/ module: library NAME DEPENDENCY-LIBS...
library() {
    local name=$1
    shift
    local sources
    mapfile -t sources < <(find Sources/"$name" -name '*.swift' | sort)  # the module's folders too
    if stale "$out/lib/lib$name.a" "${sources[@]}" "$@"; then
        echo "fuzz: compiling $name" >&2
        swiftc "${flags[@]}" -module-name "$name" -emit-module -emit-module-path "$out/modules/$name.swiftmodule" \
            -emit-library -static -o "$out/lib/lib$name.a" "${sources[@]}"
    fi
}

# A static library of one C target: c_library NAME (its include/ holds the module map swiftc reads;
# its private headers count for staleness too).
c_library() {
    local name=$1
    local sources=(Sources/"$name"/*.c)
    if stale "$out/lib/lib$name.a" "${sources[@]}" Sources/"$name"/*.h Sources/"$name"/include/*; then
        echo "fuzz: compiling $name" >&2
        local objects=() source
        for source in "${sources[@]}"; do
            local object="$out/lib/$name-$(basename "$source" .c).o"
            clang "${c_flags[@]}" -I Sources/"$name"/include -I Sources/"$name" -c "$source" -o "$object"
            objects+=("$object")
        done
        rm -f "$out/lib/lib$name.a"
        ar rcs "$out/lib/lib$name.a" "${objects[@]}"
    fi
}

build() {
    c_library CCRC32C
    c_library CLossKernels
    library Checksums "$out/lib/libCCRC32C.a"
    library SSDLoss "$out/lib/libCLossKernels.a"
    library LossWire "$out/lib/libSSDLoss.a" "$out/lib/libChecksums.a"
    local libs=("$out/lib/libLossWire.a" "$out/lib/libSSDLoss.a" "$out/lib/libCLossKernels.a"
                "$out/lib/libChecksums.a" "$out/lib/libCCRC32C.a")
    local decoder=(Fuzz/DecoderFuzzer.swift Fuzz/FuzzFraming.swift)
    if stale "$out/decoder-fuzzer" "${decoder[@]}" "${libs[@]}"; then
        echo "fuzz: linking decoder-fuzzer" >&2
        swiftc "${flags[@]}" -module-name DecoderFuzzer "${decoder[@]}" "${libs[@]}" -o "$out/decoder-fuzzer"
    fi
    if stale "$out/recording-fuzzer" Fuzz/RecordingFuzzer.swift "${libs[@]}"; then
        echo "fuzz: linking recording-fuzzer" >&2
        swiftc "${flags[@]}" -module-name RecordingFuzzer Fuzz/RecordingFuzzer.swift "${libs[@]}" -o "$out/recording-fuzzer"
    fi
}

run() {
    "$python" Fuzz/make_seeds.py "$out/seeds"
    local failed=()
    local target
    for target in "${targets[@]}"; do
        local corpus="$out/corpus/$target" crashers="Fuzz/crashers/$target"
        mkdir -p "$corpus" "$crashers"
        local options=()
        [ -f "Fuzz/$target.dict" ] && options+=(-dict="Fuzz/$target.dict")
        echo "== fuzz $target for $seconds s (corpus $corpus, crashes to $crashers/)" >&2
        # -detect_leaks=0: the Swift runtime's caches live for the whole process and look like leaks.
        if ! "$out/$target-fuzzer" "$corpus" "$out/seeds/$target" "$crashers" \
            -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 \
            -artifact_prefix="$crashers/" -print_final_stats=1 "${options[@]}" 2>"$out/$target.log"; then
            failed+=("$target")
            tail -n 60 "$out/$target.log" >&2
        else
            grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "$out/$target.log" >&2 || true
        fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzz: ${failed[*]} crashed; the inputs are in Fuzz/crashers/ (logs in $out/)" >&2
        exit 1
    fi
    echo "fuzz: no crash in ${targets[*]}" >&2
}

case $action in
    build) build ;;
    run) build; run ;;
    *) echo "usage: scripts/fuzz.sh [build|run] [decoder|recording ...]" >&2; exit 64 ;;
esac
