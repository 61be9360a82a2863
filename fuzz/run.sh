#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 600) on the nightly toolchain with cargo-fuzz
# (`cargo install cargo-fuzz`), from the committed seeds plus a local corpus that grows between
# runs (fuzz/corpus/, not committed). A failing input lands in fuzz/artifacts/<target>/: copy
# it to fuzz/regressions/<target>/ with the fix, and `cargo test` keeps it fixed.
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(parse scenario rest)
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    # -rss_limit_mb: an input that costs more than this is a bug (bounded memory).
    # -timeout: one input that runs longer than this is a bug (bounded time).
    cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=512 -timeout=5 -max_len=131072 -print_final_stats=1
done
