#!/usr/bin/env bash
# Runs every benchmark (a few minutes) and prints one table: figure, ours, baseline, ratio,
# target, met. The raw numbers stay in target/criterion/ and target/bench-figures.txt.
#
#   bash benches/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

quick=(--warm-up-time 1 --measurement-time 3)
mkdir -p target
cargo bench --locked --bench parse -- "${quick[@]}" | tee target/bench-figures.txt
cargo bench --locked --bench engine -- "${quick[@]}"
cargo bench --locked --bench rest -- "${quick[@]}"
cargo bench --locked --bench media -- "${quick[@]}"
cargo bench --locked --bench memory | tee -a target/bench-figures.txt
# Parse / scan in instructions (valgrind's callgrind, which repeats exactly; skipped when
# valgrind is missing): each input's count less that of the run that only builds the inputs.
if command -v valgrind >/dev/null; then
    cargo build --locked --release --example parse_count
    for input in big corpus; do
        declare -A ir=()
        for mode in parse scan load; do
            out="target/callgrind.parse_count.$mode.$input"
            valgrind --tool=callgrind --callgrind-out-file="$out" target/release/examples/parse_count "$mode" "$input" >/dev/null 2>&1
            ir[$mode]=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
        done
        python3 -c "print(f'figure: parse_instructions_ratio_$input {(${ir[parse]} - ${ir[load]}) / (${ir[scan]} - ${ir[load]}):.3f}')" \
            | tee -a target/bench-figures.txt
    done
fi
# Growth curves (also draws benches/growth.svg).
cargo bench --locked --bench growth | tee -a target/bench-figures.txt
# Real calls: SIPp places 500 concurrent G.711 calls on `serve --sip` (release binary).
cargo bench --locked --bench sip_load | tee -a target/bench-figures.txt
# A live scenario spanning an hour of call time against a trivial local app (release binary).
cargo build --locked --release
python3 benches/live_hour.py target/release/plivo-flow | tee -a target/bench-figures.txt

python3 benches/table.py
