//! Files only their owner may read (keys, tokens, sealed data, an IdP's state): folders
//! 0700, files 0600, written atomically. One implementation for `dcrctl dev`'s data dir,
//! the SQLite store and the IdP emulator's state file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents with mode 0700 (existing ones are left be).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes `bytes` to `path` with mode 0600, atomically: a crash leaves the old file or
/// the new one, never a torn one.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} names no file", path.display())))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = write_new(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // The rename itself is durable only once the directory is synced.
    File::open(&dir)?.sync_all()
}

fn write_new(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(tmp)?;
    // `mode` applies only when the file is created; a leftover temporary file keeps its
    // own, so set it in every case.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_files_are_the_owners_alone_and_rewrites_replace() {
        let root = std::env::temp_dir().join(format!("dcr-private-{}", std::process::id()));
        let dir = root.join("a").join("b");
        create_dir(&dir).expect("dir");
        let file = dir.join("secrets.json");
        write(&file, b"one").expect("write");
        write(&file, b"two").expect("rewrite");
        assert_eq!(fs::read(&file).expect("read"), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        }
        assert_eq!(
            fs::read_dir(&dir).expect("list").count(),
            1,
            "no temp file left"
        );
        fs::remove_dir_all(&root).expect("cleanup");
    }
}
