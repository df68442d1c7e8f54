//! Path names: normalisation against a working directory. Every path the
//! system stores or compares is normalised first: absolute, no `.` or
//! `..` components, no empty components, no trailing `/`.

use alloc::string::String;
use alloc::vec::Vec;

/// The longest path accepted, in bytes (POSIX PATH_MAX).
pub const PATH_MAX: usize = 4096;
/// The longest name of one component (POSIX NAME_MAX).
pub const NAME_MAX: usize = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// Empty, or a NUL byte inside.
    Invalid,
    /// Longer than PATH_MAX.
    TooLong,
    /// A component longer than NAME_MAX.
    NameTooLong,
}

/// `path` resolved against `cwd` (itself normalised and absolute). `..`
/// at the root stays at the root, as in Plan 9 and Unix.
pub fn normalize(cwd: &str, path: &str) -> Result<String, PathError> {
    if path.is_empty() || path.contains('\0') {
        return Err(PathError::Invalid);
    }
    if path.len() > PATH_MAX || cwd.len() > PATH_MAX {
        return Err(PathError::TooLong);
    }
    let mut parts: Vec<&str> = Vec::new();
    let start = if path.starts_with('/') { "" } else { cwd };
    for part in start.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name if name.len() > NAME_MAX => return Err(PathError::NameTooLong),
            name => parts.push(name),
        }
    }
    let mut out = String::with_capacity(path.len() + cwd.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    if out.len() > PATH_MAX {
        return Err(PathError::TooLong);
    }
    Ok(out)
}

/// The components of a normalised path.
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|p| !p.is_empty())
}

/// Splits a normalised path into its parent and last name (`None` for `/`).
pub fn split_last(path: &str) -> Option<(&str, &str)> {
    let at = path.rfind('/')?;
    let name = &path[at + 1..];
    if name.is_empty() {
        return None;
    }
    Some((if at == 0 { "/" } else { &path[..at] }, name))
}

/// The last name of a path, `/` for the root (a final `/` aside).
pub fn last_name(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("/")
}

/// `dir/name`, for a normalised `dir`.
pub fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        alloc::format!("/{name}")
    } else {
        alloc::format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn normalises_against_the_working_directory() {
        let n = |cwd, p| normalize(cwd, p).unwrap();
        assert_eq!(n("/", "/"), "/");
        assert_eq!(n("/usr", "bin"), "/usr/bin");
        assert_eq!(n("/usr/lib", "../bin//./x/"), "/usr/bin/x");
        assert_eq!(n("/a/b", "/c/../d"), "/d");
        assert_eq!(n("/", "../../.."), "/");
        assert_eq!(n("/a", "."), "/a");
        assert_eq!(n("/a", "..."), "/a/...");
    }

    #[test]
    fn refuses_bad_paths() {
        assert_eq!(normalize("/", ""), Err(PathError::Invalid));
        assert_eq!(normalize("/", "a\0b"), Err(PathError::Invalid));
        assert_eq!(normalize("/", &"a/".repeat(2049)), Err(PathError::TooLong));
        assert_eq!(normalize("/", &"x".repeat(256)), Err(PathError::NameTooLong));
        assert!(normalize("/", &"x".repeat(255)).is_ok());
        // Long inputs that shrink below the limit are fine.
        assert_eq!(normalize("/", &("a/../".repeat(100) + "b")), Ok("/b".to_string()));
    }

    #[test]
    fn path_max_bounds_input_and_result() {
        // Inputs: PATH_MAX bytes are accepted, one more is refused even
        // when it would shrink (for both the path and the working
        // directory, used or not).
        let at_max = "./".repeat(2047) + "ab";
        assert_eq!((at_max.len(), normalize("/", &at_max)), (PATH_MAX, Ok("/ab".to_string())));
        assert_eq!(normalize("/", &(at_max + "c")), Err(PathError::TooLong));
        let cwd = "/aaaaaaaaaaaaaaa".repeat(256);
        assert_eq!(cwd.len(), PATH_MAX);
        assert_eq!(normalize(&cwd, "/x"), Ok("/x".to_string()));
        assert_eq!(normalize(&(cwd.clone() + "a"), "/x"), Err(PathError::TooLong));
        // The result: exactly PATH_MAX is fine, beyond it is not.
        assert_eq!(normalize(&cwd[..PATH_MAX - 2], "b").map(|p| p.len()), Ok(PATH_MAX));
        assert_eq!(normalize(&cwd, "b"), Err(PathError::TooLong));
    }

    #[test]
    fn splits_and_iterates() {
        assert_eq!(split_last("/a/b"), Some(("/a", "b")));
        assert_eq!(split_last("/a"), Some(("/", "a")));
        assert_eq!(split_last("/"), None);
        assert_eq!(components("/a/b").collect::<alloc::vec::Vec<_>>(), ["a", "b"]);
        assert_eq!(components("/").count(), 0);
    }

    #[test]
    fn last_names_and_joins() {
        for (path, name) in [("/", "/"), ("/tmp", "tmp"), ("/a/b/", "b"), ("x", "x")] {
            assert_eq!(last_name(path), name, "{path}");
        }
        assert_eq!((join("/", "a"), join("/a", "b")), ("/a".to_string(), "/a/b".to_string()));
    }
}
