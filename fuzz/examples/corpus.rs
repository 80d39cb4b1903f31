//! Packs a libFuzzer corpus directory into one file, or restores a pack into a directory
//! (`hobbits_fuzz::corpus`, docs/FUZZING.md "Corpora"):
//!
//! ```sh
//! cargo run --release --example corpus -- pack corpus_dir corpora/TARGET.pack
//! cargo run --release --example corpus -- unpack corpora/TARGET.pack corpus_dir
//! ```
//!
//! Packing takes the directory's files in name order; unpacking names each input by the
//! SHA-256 of its bytes (hex) and leaves files already there alone. Handles no messages.

use std::path::Path;

use anyhow::{bail, Context, Result};
use hobbits_fuzz::corpus;
use sha2::{Digest, Sha256};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, dir, file] if mode == "pack" => {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .with_context(|| format!("reading {dir}"))?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()?;
            names.sort();
            let inputs = names
                .iter()
                .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
                .collect::<Result<Vec<_>>>()?;
            let packed = corpus::pack(inputs.iter().map(Vec::as_slice))?;
            std::fs::write(file, &packed).with_context(|| format!("writing {file}"))?;
            eprintln!("{} inputs, {} bytes -> {file}", inputs.len(), packed.len());
        }
        [mode, file, dir] if mode == "unpack" => {
            let bytes = std::fs::read(file).with_context(|| format!("reading {file}"))?;
            let inputs = corpus::unpack(&bytes).with_context(|| format!("unpacking {file}"))?;
            std::fs::create_dir_all(dir)?;
            let mut written = 0;
            for input in &inputs {
                let path = Path::new(dir).join(hex::encode(Sha256::digest(input)));
                if !path.exists() {
                    std::fs::write(&path, input)?;
                    written += 1;
                }
            }
            eprintln!("{} inputs in {file}, {written} new in {dir}", inputs.len());
        }
        _ => bail!("usage: corpus pack DIR FILE | corpus unpack FILE DIR"),
    }
    Ok(())
}
