#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of one target (or all) with cargo-fuzz / libFuzzer on the stable
# toolchain. See docs/FUZZING.md.
#
#   fuzz/run.sh TARGET SECONDS [RUNS]   fuzz TARGET for at most SECONDS (and at most RUNS inputs)
#   fuzz/run.sh all SECONDS [RUNS]      each target in turn, one at a time
#   fuzz/run.sh TARGET repro FILE       run TARGET once on FILE (a crash artifact or a seed)
#
# TARGET: frame_decode | bson_envelope | ssz_payload | snapshot_decode | peer_session | state_machines
# Environment:
#   SANITIZER=none (default) | address   (address needs RUSTC_BOOTSTRAP=1 on stable; set here)
#   MAX_LEN=N                            libFuzzer -max_len (default: per target, below)
#   FUZZ_ARGS="..."                      extra libFuzzer flags
# The corpus lives in fuzz/corpus/TARGET (git-ignored) and starts from the committed fuzz/seeds/TARGET
# (regenerate them with `cargo run --example gen_seeds` in fuzz/) and, when there is one, the packed
# minimized corpus fuzz/corpora/TARGET.pack (docs/FUZZING.md). Crashes land in fuzz/artifacts/TARGET.
set -euo pipefail

self="$(realpath "$0")"
cd "$(dirname "$0")"
targets=(frame_decode bson_envelope ssz_payload snapshot_decode peer_session state_machines)
sanitizer="${SANITIZER:-none}"

usage() {
    sed -n '2,16p' "$self" >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
command -v cargo-fuzz >/dev/null || {
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 1
}

fuzz_flags=(-O --sanitizer "$sanitizer" --target-dir "target/$sanitizer")
if [[ "$sanitizer" != none ]]; then
    # -Zsanitizer on the stable toolchain.
    export RUSTC_BOOTSTRAP=1
fi

max_len_for() {
    case "$1" in
        # BSON documents the node reads are small; longer inputs only slow the search down.
        bson_envelope) echo 2048 ;;
        # Room for a BLOCK_BODIES with a few blocks and a BeaconState.
        ssz_payload | snapshot_decode) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

run_one() {
    local target="$1" seconds="$2" runs="${3:-}"
    mkdir -p "corpus/$target" "artifacts/$target"
    cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
    # Resume from the committed minimized corpus of the recorded runs, if there is one.
    if [[ -f "corpora/$target.pack" ]]; then
        cargo run --release --quiet --example corpus -- unpack "corpora/$target.pack" "corpus/$target"
    fi
    local args=(
        "-max_total_time=$seconds"
        "-max_len=${MAX_LEN:-$(max_len_for "$target")}"
        # A few hundred bytes of input must never cost megabytes: flag any single allocation
        # above 64 MiB and any process above 1 GiB.
        -malloc_limit_mb=64
        -rss_limit_mb=1024
        -timeout=10
        -print_final_stats=1
    )
    [[ -n "$runs" ]] && args+=("-runs=$runs")
    # shellcheck disable=SC2206
    args+=(${FUZZ_ARGS:-})
    echo "== $target: ${seconds}s${runs:+, at most $runs runs}, sanitizer $sanitizer" >&2
    cargo fuzz run "${fuzz_flags[@]}" "$target" "corpus/$target" -- "${args[@]}"
}

target="$1"
if [[ "$2" == repro ]]; then
    [[ $# -eq 3 ]] || usage
    cargo fuzz run "${fuzz_flags[@]}" "$target" "$3"
    exit
fi
seconds="$2"
runs="${3:-}"
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
if [[ "$target" == all ]]; then
    for t in "${targets[@]}"; do
        run_one "$t" "$seconds" "$runs"
    done
else
    [[ " ${targets[*]} " == *" $target "* ]] || usage
    run_one "$target" "$seconds" "$runs"
fi
