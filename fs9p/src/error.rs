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
}

impl Error {
    /// Every error; where two share an errno, the first is what it means.
    pub const ALL: [Error; 18] = [
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
        }
    }

    /// The message for Rerror, in the words Plan 9 uses.
    pub const fn message(self) -> &'static str {
        match self {
            Error::NotFound => "file does not exist",
            Error::Exists => "file already exists",
            Error::NotDir => "not a directory",
            Error::IsDir => "is a directory",
            Error::NotEmpty => "directory not empty",
            Error::Permission => "permission denied",
            Error::NoSpace => "no space left on device",
            Error::ReadOnly => "read-only file system",
            Error::Invalid => "invalid argument",
            Error::BadFid => "unknown fid",
            Error::FidInUse => "fid already in use",
            Error::TooManyFids => "too many fids",
            Error::NotSupported => "operation not supported",
            Error::NameTooLong => "file name too long",
            Error::Io => "i/o error",
            Error::NoAuthRequired => "authentication not required",
            Error::Busy => "too many requests in flight",
            Error::Interrupted => "interrupted",
        }
    }

    /// The error a Linux errno stands for (for the client side); an
    /// unknown one is an I/O error.
    pub fn from_errno(e: u32) -> Error {
        Error::ALL.into_iter().find(|x| x.errno() == e).unwrap_or(Error::Io)
    }

    /// The error an Rerror's text stands for (the words of
    /// [`Error::message`], as Plan 9 servers write them); other texts are
    /// I/O errors.
    pub fn from_message(text: &str) -> Error {
        Error::ALL.into_iter().find(|x| x.message() == text).unwrap_or(Error::Io)
    }
}

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
        assert_eq!(alloc::format!("{}", Error::NotEmpty), "directory not empty");
    }
}
