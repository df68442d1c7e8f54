//! Synthetic directories as tables (Plan 9's `Dirtab`, as in `devproc.c`):
//! a directory of fixed names is one table of rows, each a name with the
//! server's own name for the file and what may be done with it, so that
//! lookup, listing and the check on open come from one place, and a new
//! file is one row (and its arm where the server reads or writes it).

use super::flags;
use super::server::Entry;
use crate::rpc::Errno;

/// What a client may do with a file of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perm {
    Dir,
    Read,
    Write,
    ReadWrite,
}

/// One name of a directory: the server's kind for it, and its [`Perm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row<K> {
    pub name: &'static str,
    pub perm: Perm,
    pub kind: K,
}

pub const fn row<K>(name: &'static str, perm: Perm, kind: K) -> Row<K> {
    Row { name, perm, kind }
}

impl Perm {
    /// Whether an open with flags `f` may have the file. `CREATE` means
    /// nothing to a file that exists (as from a shell's `>`) and
    /// `EXCLUSIVE` fails; `TRUNCATE` counts as a write.
    pub fn check_open(self, f: u32) -> Result<(), Errno> {
        let writes = f & (flags::WRITE | flags::TRUNCATE) != 0;
        match self {
            _ if f & flags::EXCLUSIVE != 0 => Err(Errno::Exists),
            Perm::Dir if writes => Err(Errno::IsDir),
            Perm::Read if writes => Err(Errno::NotPermitted),
            Perm::Write if f & flags::READ != 0 => Err(Errno::NotPermitted),
            _ => Ok(()),
        }
    }
}

/// The row named `name`.
pub fn find<'t, K>(table: &'t [Row<K>], name: &str) -> Option<&'t Row<K>> {
    table.iter().find(|r| r.name == name)
}

/// The kind of the row named `name`; `NotFound` without one.
pub fn lookup<K: Copy>(table: &[Row<K>], name: &str) -> Result<K, Errno> {
    find(table, name).map(|r| r.kind).ok_or(Errno::NotFound)
}

/// The row of kind `kind`.
pub fn row_of<'t, K: PartialEq>(table: &'t [Row<K>], kind: &K) -> Option<&'t Row<K>> {
    table.iter().find(|r| r.kind == *kind)
}

/// The table's rows as directory entries (of size 0).
pub fn entries<K>(table: &[Row<K>]) -> impl Iterator<Item = Entry> + '_ {
    table.iter().map(|r| Entry::new(r.name, r.perm == Perm::Dir, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::flags::{CREATE, EXCLUSIVE, READ, TRUNCATE, WRITE};

    #[test]
    fn opens_are_checked_against_the_rows_perm() {
        for (perm, f, want) in [
            (Perm::Read, READ, Ok(())),
            (Perm::Read, READ | CREATE, Ok(())),
            (Perm::Read, WRITE, Err(Errno::NotPermitted)),
            (Perm::Read, READ | TRUNCATE, Err(Errno::NotPermitted)),
            (Perm::Write, WRITE | CREATE | TRUNCATE, Ok(())),
            (Perm::Write, READ | WRITE, Err(Errno::NotPermitted)),
            (Perm::ReadWrite, READ | WRITE, Ok(())),
            (Perm::ReadWrite, WRITE | CREATE | EXCLUSIVE, Err(Errno::Exists)),
            (Perm::Dir, READ, Ok(())),
            (Perm::Dir, WRITE, Err(Errno::IsDir)),
        ] {
            assert_eq!(perm.check_open(f), want, "{perm:?} {f:#x}");
        }
    }

    #[test]
    fn a_table_is_looked_up_and_listed() {
        const T: [Row<u8>; 3] = [row("a", Perm::Read, 1), row("d", Perm::Dir, 2), row("w", Perm::Write, 3)];
        assert_eq!(find(&T, "d").map(|r| r.kind), Some(2));
        assert!(find(&T, "x").is_none());
        assert_eq!(lookup(&T, "w"), Ok(3));
        assert_eq!(lookup(&T, "x"), Err(Errno::NotFound));
        assert_eq!(row_of(&T, &3).map(|r| r.name), Some("w"));
        let listed: alloc::vec::Vec<(alloc::string::String, bool)> = entries(&T).map(|e| (e.name, e.is_dir)).collect();
        assert_eq!(listed, [("a".into(), false), ("d".into(), true), ("w".into(), false)]);
    }
}
