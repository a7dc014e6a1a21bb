//! One `crm serve` per data directory. Two processes on the same SQLite files would each run a
//! relay and write concurrently; the second one is refused at once, naming the directory and the
//! process that holds it. The lock is the operating system's (released when the process ends,
//! however it ends), on `<data-dir>/crm.lock`, which also records the holder's pid for the
//! message. Operator commands (`crm tenant create`, `crm events ...`) do not take it: they are
//! short, and SQLite serializes their writes with the server's.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Held while the process serves; dropping it releases the directory.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Locks `dir` (created if missing) for this process, or says who holds it.
    pub fn acquire(dir: &Path) -> anyhow::Result<DataDirLock> {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the data directory {}; choose another with --data-dir",
                dir.display()
            )
        })?;
        let path = dir.join("crm.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another process".to_owned(),
                    pid => format!("another crm process (pid {pid})"),
                };
                bail!(
                    "the data directory {} is in use by {holder}; stop that process, or give this one another --data-dir",
                    display(dir)
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(DataDirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The directory as given and, when relative, where it resolves: `./data` is relative to the
/// working directory, which surprises people who start the CRM from elsewhere.
fn display(dir: &Path) -> String {
    match std::fs::canonicalize(dir) {
        Ok(full) if full != dir => format!("{} ({})", dir.display(), full.display()),
        _ => dir.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("--data-dir"), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path()).expect("free again once the first lets go");
    }
}
