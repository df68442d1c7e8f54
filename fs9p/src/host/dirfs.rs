//! Exporting a host directory. Nodes are paths below the export root;
//! walking `..` never leaves it, and symbolic links are invisible, so no
//! request reaches outside the export.

use crate::error::Error;
use crate::msg::{OpenMode, Qid};
use crate::server::{Filesystem, Meta};
use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

pub struct DirFs {
    root: PathBuf,
}

impl DirFs {
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<DirFs> {
        Ok(DirFs { root: fs::canonicalize(root)? })
    }

    fn full(&self, node: &Path) -> PathBuf {
        self.root.join(node)
    }
}

fn io(e: std::io::Error) -> Error {
    match e.kind() {
        ErrorKind::NotFound => Error::NotFound,
        ErrorKind::PermissionDenied => Error::Permission,
        ErrorKind::AlreadyExists => Error::Exists,
        ErrorKind::DirectoryNotEmpty => Error::NotEmpty,
        ErrorKind::NotADirectory => Error::NotDir,
        ErrorKind::IsADirectory => Error::IsDir,
        ErrorKind::StorageFull => Error::NoSpace,
        ErrorKind::ReadOnlyFilesystem => Error::ReadOnly,
        // (What the host's ENAMETOOLONG is: a name too long, not a bad one.)
        ErrorKind::InvalidFilename => Error::NameTooLong,
        ErrorKind::InvalidInput => Error::Invalid,
        _ => Error::Io,
    }
}

fn meta_of(path: &Path, name: String) -> Result<Meta, Error> {
    let m = fs::symlink_metadata(path).map_err(io)?;
    if m.file_type().is_symlink() {
        return Err(Error::NotFound);
    }
    let ty = if m.is_dir() { Qid::DIR } else { Qid::FILE };
    Ok(Meta {
        qid: Qid { ty, version: m.mtime() as u32, path: m.ino() },
        mode: m.permissions().mode() & 0o777,
        size: m.len(),
        mtime: m.mtime().max(0) as u64,
        name,
    })
}

impl Filesystem for DirFs {
    type Node = PathBuf;
    /// Files are reopened by path for each read and write.
    type File = PathBuf;
    type Io = ();

    fn attach(&mut self, _uname: &str, aname: &str) -> Result<PathBuf, Error> {
        // The export is one tree; an aname may name a directory in it.
        let mut node = PathBuf::new();
        for part in aname.split('/').filter(|p| !p.is_empty()) {
            node = self.walk(&node, part)?;
        }
        Ok(node)
    }

    fn walk(&mut self, dir: &PathBuf, name: &str) -> Result<PathBuf, Error> {
        if name == ".." {
            return Ok(dir.parent().map(Path::to_path_buf).unwrap_or_default());
        }
        if name.is_empty() || name == "." || name.contains('/') || name.contains('\0') {
            return Err(Error::Invalid);
        }
        let node = dir.join(name);
        meta_of(&self.full(&node), name.to_string())?;
        Ok(node)
    }

    fn meta(&mut self, node: &PathBuf) -> Result<Meta, Error> {
        let name = node.file_name().map_or_else(|| "/".to_string(), |n| n.to_string_lossy().into_owned());
        meta_of(&self.full(node), name)
    }

    fn open(&mut self, node: &PathBuf, mode: OpenMode) -> Result<PathBuf, Error> {
        // The host checks the access asked for; reads and writes reopen.
        let path = self.full(node);
        if !path.is_dir() {
            let f = OpenOptions::new().read(mode.read).write(mode.write || mode.truncate).open(path).map_err(io)?;
            if mode.truncate {
                f.set_len(0).map_err(io)?;
            }
        }
        Ok(node.clone())
    }

    fn read(&mut self, node: &mut PathBuf, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let f = fs::File::open(self.full(node)).map_err(io)?;
        f.read_at(buf, offset).map_err(io)
    }

    fn write(&mut self, node: &mut PathBuf, offset: u64, data: &[u8]) -> Result<usize, Error> {
        let f = OpenOptions::new().write(true).open(self.full(node)).map_err(io)?;
        f.write_all_at(data, offset).map_err(io)?;
        Ok(data.len())
    }

    fn create(&mut self, dir: &PathBuf, name: &str, is_dir: bool, perm: u32) -> Result<PathBuf, Error> {
        let node = dir.join(name);
        let path = self.full(&node);
        if is_dir {
            fs::create_dir(&path).map_err(io)?;
        } else {
            OpenOptions::new().write(true).create_new(true).open(&path).map_err(io)?;
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(perm & 0o777)).map_err(io)?;
        Ok(node)
    }

    fn remove(&mut self, node: &PathBuf) -> Result<(), Error> {
        if node.as_os_str().is_empty() {
            return Err(Error::Permission); // the export root stays
        }
        let path = self.full(node);
        if fs::symlink_metadata(&path).map_err(io)?.is_dir() {
            fs::remove_dir(&path).map_err(io)
        } else {
            fs::remove_file(&path).map_err(io)
        }
    }

    fn list(&mut self, dir: &PathBuf) -> Result<Vec<Meta>, Error> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.full(dir)).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Symbolic links (and entries that vanish meanwhile) are skipped.
            if let Ok(m) = meta_of(&entry.path(), name) {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn rename(&mut self, node: &PathBuf, to: &PathBuf, name: &str) -> Result<(), Error> {
        fs::rename(self.full(node), self.full(&to.join(name))).map_err(io)
    }

    fn truncate(&mut self, node: &PathBuf, size: u64) -> Result<(), Error> {
        OpenOptions::new().write(true).open(self.full(node)).map_err(io)?.set_len(size).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_too_long_for_the_host_says_so() {
        let dir = std::env::temp_dir().join(std::format!("fs9p-dirfs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut d = DirFs::new(&dir).unwrap();
        let root = d.attach("u", "").unwrap();
        let long = "n".repeat(300);
        assert_eq!(d.create(&root, &long, false, 0o644).err(), Some(Error::NameTooLong));
        assert!(d.create(&root, "short", false, 0o644).is_ok());
        fs::remove_dir_all(&dir).unwrap();
    }
}
