//! Replays every saved fuzz input on stable (issue 11): the minimised corpora that the
//! cargo-fuzz runs grew (`fuzz/corpus/TARGET/`) and every input that once crashed a target
//! (`fuzz/regressions/TARGET/`), through the same bodies the fuzz targets run
//! (`fuzz/bodies.rs`). A panic, or an input that takes more than 5 s, fails the test.

#[path = "../../fuzz/bodies.rs"]
mod bodies;

use std::path::Path;
use std::time::{Duration, Instant};

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_saved_fuzz_input_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut total = 0;
    let mut slowest = (Duration::ZERO, String::new());
    for (name, body) in bodies::TARGETS {
        let mut files = inputs(&root.join("corpus").join(name));
        files.extend(inputs(&root.join("regressions").join(name)));
        assert!(!files.is_empty(), "no saved inputs for fuzz target {name}");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(|| body(&data));
            let took = start.elapsed();
            assert!(outcome.is_ok(), "{name}: {} panics", file.display());
            if took > slowest.0 {
                slowest = (took, file.display().to_string());
            }
            total += 1;
        }
    }
    println!(
        "{total} inputs replayed; slowest {:?} ({})",
        slowest.0, slowest.1
    );
    assert!(
        slowest.0 < Duration::from_secs(5),
        "an input took {:?}: {}",
        slowest.0,
        slowest.1
    );
}
