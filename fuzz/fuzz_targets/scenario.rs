//! The scenario loader on arbitrary text, and the loaded simulation run for up to one virtual
//! hour: never panics, and a run always stops.
#![no_main]

use std::path::Path;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use plivo_flow::scenario::Scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Relative to the samples, so the seed scenarios find their documents.
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/fuzz.toml"));
    if let Ok(mut scenario) = Scenario::from_toml(text, path) {
        scenario.simulation.run_until(Duration::from_secs(3600));
        let _ = scenario.simulation.transcript_text();
    }
});
