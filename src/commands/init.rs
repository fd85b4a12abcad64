//! `strata init`: write the default configuration.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::config::{DEFAULT_TOML, FILE_NAME};

pub fn run(dir: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let path = dir.join(FILE_NAME);
    if path.exists() && !force {
        bail!("{} already exists; pass --force to overwrite it", path.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&path, DEFAULT_TOML).with_context(|| format!("cannot write {}", path.display()))?;
    super::out(format!("wrote {}", path.display()) + "\n")?;
    Ok(ExitCode::SUCCESS)
}
