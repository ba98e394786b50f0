//! Where the four binaries come from: built once per test process in the test's own profile,
//! or `E2E_BIN_DIR`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{HarnessError, SERVICES};

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

/// The directory holding the four binaries for a test, built once per process.
pub fn binaries() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("E2E_BIN_DIR") {
            return PathBuf::from(dir);
        }
        // This test runs from <target>/<profile>/deps/<test>-<hash>: build into that profile.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in <target>/<profile>/deps");
        build_binaries(profile_dir).unwrap_or_else(|e| panic!("{e}"))
    })
    .clone()
}

/// Builds the four binaries into `profile_dir` (`<target>/<profile>`, e.g. `target/release`)
/// with `cargo build --bins` (a no-op when they are up to date) and returns that directory.
pub fn build_binaries(profile_dir: &Path) -> Result<PathBuf, HarnessError> {
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| HarnessError(format!("{} has no parent", profile_dir.display())))?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| HarnessError(format!("{} is no profile", profile_dir.display())))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .current_dir(workspace_root())
        .args(["build", "--bins", "--target-dir"])
        .arg(target_dir)
        .args([
            "--profile",
            if profile == "debug" { "dev" } else { profile },
        ]);
    for service in SERVICES {
        build.args(["-p", service]);
    }
    let status = build
        .status()
        .map_err(|e| HarnessError(format!("cannot run cargo build: {e}")))?;
    if !status.success() {
        return Err(HarnessError(
            "cargo build of the four services failed".to_owned(),
        ));
    }
    Ok(profile_dir.to_path_buf())
}
