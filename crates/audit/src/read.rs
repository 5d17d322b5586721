//! Reading files of the audit directory, whose contents whoever writes that
//! directory chooses: only regular files (never a FIFO or a device a
//! reader would block on or read forever), and never more than a file of
//! its kind holds (a huge sparse footer would otherwise be read whole).

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{AuditError, IoContext};

/// The most a footer file holds (one is about 300 bytes).
pub(crate) const MAX_FOOTER_FILE: u64 = 64 << 10;
/// The most a receipt file holds (one is about 250 bytes).
pub(crate) const MAX_RECEIPT_FILE: u64 = 64 << 10;
/// The most `seal-keys.json` holds (a key is about 130 bytes; one per
/// domain-key generation).
pub(crate) const MAX_SEAL_KEYS_FILE: u64 = 1 << 20;
/// Segments grow past their roll size while the module cannot seal them:
/// only their kind is checked.
pub(crate) const ANY_SEGMENT_FILE: u64 = u64::MAX;

/// Flags that make opening a FIFO return at once (refused by the caller, or
/// failing with `ENXIO` for writing); on a regular file they change
/// nothing.
pub(crate) fn nonblocking() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

/// The bytes of the regular file `path`, refused if it holds more than
/// `max`.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, AuditError> {
    // Non-blocking, so that opening a FIFO returns at once (and is then
    // refused); on a regular file the flag changes nothing.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nonblocking())
        .open(path)
        .at(path)?;
    let meta = file.metadata().at(path)?;
    if !meta.is_file() {
        return Err(AuditError::Malformed(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let too_big = || {
        AuditError::Malformed(format!(
            "{} holds more than the {max} bytes a file of its kind may",
            path.display()
        ))
    };
    if meta.len() > max {
        return Err(too_big());
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(max.saturating_add(1))
        .read_to_end(&mut out)
        .at(path)?;
    if out.len() as u64 > max {
        return Err(too_big());
    }
    Ok(out)
}
