use super::consts::error;

/// An seL4 invocation error (the label of the kernel's reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    InvalidArgument,
    InvalidCapability,
    IllegalOperation,
    RangeError,
    AlignmentError,
    FailedLookup,
    TruncatedMessage,
    DeleteFirst,
    RevokeFirst,
    NotEnoughMemory,
    /// A label outside the kernel's error range.
    Unknown(u64),
}

impl Error {
    /// Maps a reply label to `Ok(())` or the error it encodes.
    pub fn check(label: u64) -> Result<(), Error> {
        Err(match label {
            error::NO_ERROR => return Ok(()),
            error::INVALID_ARGUMENT => Error::InvalidArgument,
            error::INVALID_CAPABILITY => Error::InvalidCapability,
            error::ILLEGAL_OPERATION => Error::IllegalOperation,
            error::RANGE_ERROR => Error::RangeError,
            error::ALIGNMENT_ERROR => Error::AlignmentError,
            error::FAILED_LOOKUP => Error::FailedLookup,
            error::TRUNCATED_MESSAGE => Error::TruncatedMessage,
            error::DELETE_FIRST => Error::DeleteFirst,
            error::REVOKE_FIRST => Error::RevokeFirst,
            error::NOT_ENOUGH_MEMORY => Error::NotEnoughMemory,
            other => Error::Unknown(other),
        })
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Unknown(n) => write!(f, "unknown seL4 error {n}"),
            e => write!(f, "seL4 {e:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_errors() {
        assert_eq!(Error::check(0), Ok(()));
        assert_eq!(Error::check(6), Err(Error::FailedLookup));
        assert_eq!(Error::check(10), Err(Error::NotEnoughMemory));
        assert_eq!(Error::check(99), Err(Error::Unknown(99)));
    }
}
