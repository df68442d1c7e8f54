//! File system errors as 9P carries them: a string in 9P2000's Rerror, a
//! Linux errno in 9P2000.L's Rlerror.

/// What a file system operation can fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    NotFound,
    Exists,
    NotDir,
    IsDir,
    NotEmpty,
    Permission,
    NoSpace,
    ReadOnly,
    Invalid,
    BadFid,
    FidInUse,
    TooManyFids,
    NotSupported,
    NameTooLong,
    Io,
    /// The answer to Tauth when the server needs none (as diod answers).
    NoAuthRequired,
    /// Too many requests of the connection are being served at once.
    Busy,
    /// The request was given up (a Tflush of it).
    Interrupted,
    /// Only the owner (or a privileged user) may do that (EPERM, where
    /// `Permission` is EACCES: the rights to the file do not allow it).
    NotPermitted,
    /// A symbolic link where none may be followed.
    Loop,
    /// A rename or link between two file systems.
    CrossDevice,
    TooManyLinks,
    TooBig,
    /// A request the server could not make sense of (EBADMSG).
    BadMessage,
    /// What the request is about was on a machine that went down
    /// (EHOSTDOWN).
    HostDown,
}

impl Error {
    /// Every error; where two share an errno, the first is what it means.
    pub const ALL: [Error; 25] = [
        Error::NotFound,
        Error::Exists,
        Error::NotDir,
        Error::IsDir,
        Error::NotEmpty,
        Error::Permission,
        Error::NoSpace,
        Error::ReadOnly,
        Error::Invalid,
        Error::BadFid,
        Error::FidInUse,
        Error::TooManyFids,
        Error::NotSupported,
        Error::NameTooLong,
        Error::Io,
        Error::NoAuthRequired,
        Error::Busy,
        Error::Interrupted,
        Error::NotPermitted,
        Error::Loop,
        Error::CrossDevice,
        Error::TooManyLinks,
        Error::TooBig,
        Error::BadMessage,
        Error::HostDown,
    ];

    /// The Linux errno for Rlerror.
    pub const fn errno(self) -> u32 {
        match self {
            Error::NotFound | Error::NoAuthRequired => 2, // ENOENT
            Error::Io => 5,                               // EIO
            Error::Busy => 11,                            // EAGAIN
            Error::Interrupted => 4,                      // EINTR
            Error::BadFid => 9,                           // EBADF
            Error::Permission => 13,                      // EACCES
            Error::Exists => 17,                          // EEXIST
            Error::NotDir => 20,                          // ENOTDIR
            Error::IsDir => 21,                           // EISDIR
            Error::Invalid => 22,                         // EINVAL
            Error::TooManyFids => 24,                     // EMFILE
            Error::NoSpace => 28,                         // ENOSPC
            Error::ReadOnly => 30,                        // EROFS
            Error::NameTooLong => 36,                     // ENAMETOOLONG
            Error::NotEmpty => 39,                        // ENOTEMPTY
            Error::FidInUse => 16,                        // EBUSY
            Error::NotSupported => 95,                    // EOPNOTSUPP
            Error::NotPermitted => 1,                     // EPERM
            Error::Loop => 40,                            // ELOOP
            Error::CrossDevice => 18,                     // EXDEV
            Error::TooManyLinks => 31,                    // EMLINK
            Error::TooBig => 27,                          // EFBIG
            Error::BadMessage => 74,                      // EBADMSG
            Error::HostDown => 112,                       // EHOSTDOWN
        }
    }

    /// The message for Rerror, in the words Plan 9 uses.
    /// The text of an Rerror: one Linux's 9P client (net/9p/error.c) and
    /// Plan 9's programs both know, so that a 9P2000 client maps it to
    /// the right errno rather than "unknown error".
    pub const fn message(self) -> &'static str {
        match self {
            Error::NotFound => "file does not exist",
            Error::Exists => "file already exists",
            Error::NotDir => "not a directory",
            Error::IsDir => "Is a directory",
            Error::NotEmpty => "directory is not empty",
            Error::Permission => "permission denied",
            Error::NoSpace => "No space left on device",
            Error::ReadOnly => "read only file system",
            Error::Invalid => "Invalid argument",
            Error::BadFid => "fid unknown or out of range",
            Error::FidInUse => "fid already in use",
            Error::TooManyFids => "Too many open files",
            Error::NotSupported => "Operation not supported",
            Error::NameTooLong => "File name too long",
            Error::Io => "i/o error",
            Error::NoAuthRequired => "authentication not required",
            Error::Busy => "Resource temporarily unavailable",
            Error::Interrupted => "Interrupted system call",
            Error::NotPermitted => "Operation not permitted",
            Error::Loop => "Too many levels of symbolic links",
            Error::CrossDevice => "Invalid cross-device link",
            Error::TooManyLinks => "Too many links",
            Error::TooBig => "File too large",
            Error::BadMessage => "Bad message",
            Error::HostDown => "Host is down",
        }
    }

    /// The error a Linux errno stands for (for the client side); an
    /// unknown one is an I/O error.
    pub fn from_errno(e: u32) -> Error {
        Error::ALL.into_iter().find(|x| x.errno() == e).unwrap_or(Error::Io)
    }

    /// The error an Rerror's text stands for: the words of
    /// [`Error::message`], or of [`OTHER_TEXTS`] (Linux's strerror texts,
    /// which diod and u9fs send, and Plan 9's); other texts are I/O
    /// errors.
    pub fn from_message(text: &str) -> Error {
        let ours = Error::ALL.into_iter().find(|x| x.message() == text);
        let other = || OTHER_TEXTS.iter().find(|(t, _)| *t == text).map(|(_, e)| *e);
        ours.or_else(other).unwrap_or(Error::Io)
    }
}

/// Rerror texts other servers send, and what they mean.
pub const OTHER_TEXTS: &[(&str, Error)] = &[
    ("No such file or directory", Error::NotFound),
    ("file not found", Error::NotFound),
    ("File exists", Error::Exists),
    ("Not a directory", Error::NotDir),
    ("file is a directory", Error::IsDir),
    ("Directory not empty", Error::NotEmpty),
    ("Permission denied", Error::Permission),
    ("file system is full", Error::NoSpace),
    ("Read-only file system", Error::ReadOnly),
    ("Bad file descriptor", Error::BadFid),
    ("unknown fid", Error::BadFid),
    ("Input/output error", Error::Io),
    ("Function not implemented", Error::NotSupported),
];

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn messages_and_errnos_come_back() {
        for e in Error::ALL {
            assert_eq!(Error::from_message(e.message()), e);
            assert_eq!(Error::from_errno(e.errno()).errno(), e.errno());
        }
        assert_eq!(Error::from_errno(2), Error::NotFound);
        assert_eq!((Error::from_errno(9999), Error::from_message("what?")), (Error::Io, Error::Io));
        // Display is the Rerror text, which from_message reads back.
        assert_eq!(alloc::format!("{}", Error::NotEmpty), "directory is not empty");
        // Other servers' words.
        assert_eq!(Error::from_message("No such file or directory"), Error::NotFound);
        assert_eq!(Error::from_message("Directory not empty"), Error::NotEmpty);
    }

    #[test]
    fn texts_are_ones_linux_maps() {
        // From net/9p/error.c's table: a 9P2000 client of Linux turns
        // these into the errno, not ESERVERFAULT.
        let linux = [
            ("file does not exist", 2),
            ("file already exists", 17),
            ("not a directory", 20),
            ("Is a directory", 21),
            ("directory is not empty", 39),
            ("permission denied", 13),
            ("No space left on device", 28),
            ("read only file system", 30),
            ("Invalid argument", 22),
            ("File name too long", 36),
            ("i/o error", 5),
            ("Interrupted system call", 4),
            ("Operation not permitted", 1),
            ("Too many levels of symbolic links", 40),
            ("Invalid cross-device link", 18),
            ("Too many links", 31),
            ("File too large", 27),
            ("Bad message", 74),
            ("Host is down", 112),
        ];
        for (text, errno) in linux {
            let e = Error::from_message(text);
            assert_eq!((e.message(), e.errno()), (text, errno));
        }
    }
}
