//! The seed corpora in `fuzz/corpus/` are what `veldwerk_fuzz::seeds` makes:
//! `VELDWERK_WRITE_SEEDS=1 cargo test --manifest-path fuzz/Cargo.toml --test
//! seeds` writes them after a change to the protocol, the fixtures or the API.

use std::fs;
use std::path::Path;

#[test]
fn the_seed_corpora_are_up_to_date() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let write = std::env::var_os("VELDWERK_WRITE_SEEDS").is_some();
    let mut stale = Vec::new();
    for seed in veldwerk_fuzz::seeds::all() {
        let path = corpus.join(seed.target).join(&seed.name);
        if write {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &seed.bytes).unwrap();
        } else if fs::read(&path).ok().as_deref() != Some(seed.bytes.as_slice()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale seeds (write them with VELDWERK_WRITE_SEEDS=1): {stale:#?}"
    );
}

#[test]
fn the_fixtures_are_valid_records() {
    veldwerk_fuzz::fixtures::check();
}
