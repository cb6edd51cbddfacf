//! Writes the seed corpora (`rvrrpd_fuzz::seeds`) to `fuzz/corpus/<target>/<name>`, replacing
//! what is there. Run by `cargo xtask fuzz --seed`; the output is deterministic.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = fuzz.join("corpus");
    let seeds = rvrrpd_fuzz::seeds::all(&fuzz.join("../conf"));
    let mut targets: Vec<&str> = seeds.iter().map(|s| s.0).collect();
    targets.dedup();
    for target in &targets {
        let dir = corpus.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
    }
    for (target, name, bytes) in &seeds {
        std::fs::write(corpus.join(target).join(name), bytes)?;
    }
    println!(
        "{} seeds for {} targets in {}",
        seeds.len(),
        targets.len(),
        corpus.display()
    );
    Ok(())
}
