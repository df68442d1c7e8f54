//! The OS's file errors (`libux::rpc::Errno`) and 9P's (`fs9p::Error`),
//! each way, by their Unix meaning; what has none becomes an I/O error.

use fs9p::Error;
use libux::rpc::Errno;

/// A 9P error as the OS says it.
pub fn to_os(e: Error) -> Errno {
    match e {
        Error::NotFound => Errno::NotFound,
        Error::Exists => Errno::Exists,
        Error::NotDir => Errno::NotDir,
        Error::IsDir => Errno::IsDir,
        Error::NotEmpty => Errno::NotEmpty,
        Error::Permission => Errno::NotPermitted,
        Error::NotSupported => Errno::NotSupported,
        Error::NoSpace => Errno::NoSpace,
        Error::ReadOnly => Errno::ReadOnly,
        Error::Invalid => Errno::InvalidArgument,
        Error::BadFid => Errno::BadHandle,
        Error::FidInUse => Errno::Busy,
        Error::TooManyFids => Errno::TooMany,
        Error::NameTooLong => Errno::NameTooLong,
        Error::Io | Error::NoAuthRequired => Errno::Io,
        Error::Busy => Errno::Busy,
        Error::Interrupted => Errno::Interrupted,
        Error::NotPermitted => Errno::NotPermitted,
        // The OS has no links of either kind, and one file system per path.
        Error::Loop | Error::CrossDevice => Errno::InvalidArgument,
        Error::TooManyLinks => Errno::TooMany,
        Error::TooBig => Errno::TooLarge,
        Error::BadMessage => Errno::BadRequest,
        Error::HostDown => Errno::Lost,
    }
}

/// An OS error as 9P says it.
pub fn to_9p(e: Errno) -> Error {
    match e {
        Errno::NotFound | Errno::NoFileServer | Errno::NoSuchProcess | Errno::NoSuchProgram => Error::NotFound,
        Errno::Exists => Error::Exists,
        Errno::NotDir => Error::NotDir,
        Errno::IsDir => Error::IsDir,
        Errno::NotEmpty => Error::NotEmpty,
        Errno::NoSpace | Errno::NoMemory => Error::NoSpace,
        Errno::BadHandle => Error::BadFid,
        Errno::NameTooLong => Error::NameTooLong,
        Errno::ReadOnly => Error::ReadOnly,
        Errno::NotPermitted => Error::Permission,
        Errno::NotSupported => Error::NotSupported,
        Errno::InvalidArgument | Errno::BadAddress | Errno::TooLarge => Error::Invalid,
        Errno::Busy => Error::FidInUse,
        Errno::Interrupted => Error::Interrupted,
        Errno::TooMany => Error::TooManyFids,
        Errno::BadRequest => Error::BadMessage,
        Errno::Lost => Error::HostDown,
        _ => Error::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_meaning_both_ways() {
        for e in [
            Error::NotFound,
            Error::Exists,
            Error::NotDir,
            Error::IsDir,
            Error::NotEmpty,
            Error::NoSpace,
            Error::BadFid,
            Error::NameTooLong,
            Error::ReadOnly,
            Error::Permission,
            Error::Invalid,
            Error::FidInUse,
            Error::Io,
            Error::Interrupted,
            Error::TooManyFids,
            Error::NotSupported,
            Error::BadMessage,
            Error::HostDown,
        ] {
            assert_eq!(to_9p(to_os(e)), e, "{e:?}");
        }
        assert_eq!(to_os(Error::NoAuthRequired), Errno::Io);
        assert_eq!(to_9p(Errno::BrokenPipe), Error::Io);
    }
}
