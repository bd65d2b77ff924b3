// SPDX-License-Identifier: GPL-2.0

//! Writes the seed corpus of the cargo-fuzz targets to `hostcore/fuzz/seeds/<target>/`
//! (replacing what is there), from `vfio_ixgbevf_mig_core::fuzz_seeds::seeds`.
//!
//! Run: `cargo run --example fuzz_seeds --features testing --manifest-path hostcore/Cargo.toml`

use std::path::Path;

use vfio_ixgbevf_mig_core::fuzz_seeds::seeds;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (target, files) in seeds() {
        let dir = root.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let mut bytes = 0;
        for (name, data) in &files {
            std::fs::write(dir.join(name), data)?;
            bytes += data.len();
        }
        println!("{target}: {} seeds, {bytes} bytes", files.len());
    }
    Ok(())
}
