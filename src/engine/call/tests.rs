//! Per-verb unit tests: a `Call` driven directly, no `Simulation`.
