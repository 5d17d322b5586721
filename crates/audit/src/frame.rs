//! Frames: `length (u32 LE) ‖ CRC-32 (u32 LE) of length and body ‖ body`.
//!
//! The checksum is not a security measure (the hash chain and the sealed
//! footer are); it tells a write that the crash cut short (a torn tail)
//! from a record that is whole.

/// Bytes before each frame's body.
pub const FRAME_HEADER_LEN: usize = 8;
/// The largest body a frame may carry (a record with a module log entry
/// stays far below it).
pub const MAX_FRAME_BODY: usize = 1 << 20;

fn checksum(len: [u8; 4], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(body);
    h.finalize()
}

/// Appends the frame of `body` to `out`. The caller keeps `body` under
/// [`MAX_FRAME_BODY`].
pub fn push_frame(out: &mut Vec<u8>, body: &[u8]) {
    let len = (body.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&checksum(len, body).to_le_bytes());
    out.extend_from_slice(body);
}

/// Why the bytes at some offset are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameDefect {
    /// The bytes end inside the frame (a write the crash cut short).
    Incomplete,
    /// Declared length over [`MAX_FRAME_BODY`].
    TooLong,
    /// The checksum does not match.
    BadChecksum,
}

/// Where the valid frames of a byte run end, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Every byte belongs to a whole frame.
    Clean,
    /// The bytes from `at` on are what an interrupted append leaves: an
    /// incomplete frame, zeros (also the space reserved ahead of the
    /// records), or a last frame that fails its checksum with only zeros
    /// after it. Recovery may cut them off.
    Torn {
        /// Offset of the first byte that is not a whole frame.
        at: usize,
        /// What is wrong there.
        defect: FrameDefect,
    },
    /// A bad frame with more bytes after it: damage or tampering, never
    /// cut off automatically (it could hold committed records).
    Corrupt {
        /// Offset of the bad frame.
        at: usize,
        /// What is wrong there.
        defect: FrameDefect,
    },
}

/// The frames of `bytes`: each body's range, and how the run ends.
pub fn scan_frames(bytes: &[u8]) -> (Vec<std::ops::Range<usize>>, Tail) {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.iter().all(|&b| b == 0) {
            return (
                frames,
                Tail::Torn {
                    at,
                    defect: FrameDefect::Incomplete,
                },
            );
        }
        let Some(header) = rest.get(..FRAME_HEADER_LEN) else {
            return (
                frames,
                Tail::Torn {
                    at,
                    defect: FrameDefect::Incomplete,
                },
            );
        };
        let len_bytes: [u8; 4] = [header[0], header[1], header[2], header[3]];
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let len = u32::from_le_bytes(len_bytes) as usize;
        let end = FRAME_HEADER_LEN.saturating_add(len);
        if end > rest.len() {
            return (
                frames,
                Tail::Torn {
                    at,
                    defect: FrameDefect::Incomplete,
                },
            );
        }
        let defect = if len > MAX_FRAME_BODY {
            Some(FrameDefect::TooLong)
        } else if checksum(len_bytes, &rest[FRAME_HEADER_LEN..end]) != crc {
            Some(FrameDefect::BadChecksum)
        } else {
            None
        };
        if let Some(defect) = defect {
            // Only zeros after it: the last write, cut short inside the
            // blocks reserved ahead of the records (see `active`).
            let tail = if rest[end..].iter().all(|&b| b == 0) {
                Tail::Torn { at, defect }
            } else {
                Tail::Corrupt { at, defect }
            };
            return (frames, tail);
        }
        frames.push(at + FRAME_HEADER_LEN..at + end);
        at += end;
    }
    (frames, Tail::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<u8> {
        let mut out = Vec::new();
        for body in [&b"one"[..], b"", b"three"] {
            push_frame(&mut out, body);
        }
        out
    }

    #[test]
    fn whole_frames_scan_clean() {
        let bytes = three();
        let (frames, tail) = scan_frames(&bytes);
        assert_eq!(tail, Tail::Clean);
        let bodies: Vec<&[u8]> = frames.iter().map(|r| &bytes[r.clone()]).collect();
        assert_eq!(bodies, [&b"one"[..], b"", b"three"]);
    }

    #[test]
    fn every_cut_of_the_last_frame_is_a_torn_tail_after_the_whole_ones() {
        let bytes = three();
        let last_start = bytes.len() - FRAME_HEADER_LEN - 5;
        for cut in last_start + 1..bytes.len() {
            let (frames, tail) = scan_frames(&bytes[..cut]);
            assert_eq!(frames.len(), 2, "cut at {cut}");
            assert!(matches!(tail, Tail::Torn { at, .. } if at == last_start));
        }
    }

    #[test]
    fn zeros_after_the_frames_are_a_torn_tail() {
        let mut bytes = three();
        let end = bytes.len();
        bytes.extend_from_slice(&[0; 4096]);
        let (frames, tail) = scan_frames(&bytes);
        assert_eq!(frames.len(), 3);
        assert_eq!(
            tail,
            Tail::Torn {
                at: end,
                defect: FrameDefect::Incomplete
            }
        );
    }

    #[test]
    fn a_flipped_bit_in_the_middle_is_corruption_not_a_tail() {
        let mut bytes = three();
        bytes[FRAME_HEADER_LEN] ^= 1;
        let (frames, tail) = scan_frames(&bytes);
        assert!(frames.is_empty());
        assert_eq!(
            tail,
            Tail::Corrupt {
                at: 0,
                defect: FrameDefect::BadChecksum
            }
        );
        // The same flip in the last frame is a torn tail.
        let mut bytes = three();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        assert!(matches!(scan_frames(&bytes).1, Tail::Torn { .. }));
    }

    #[test]
    fn a_last_write_cut_short_inside_reserved_zeros_is_a_torn_tail() {
        let whole = three();
        let last_start = whole.len() - FRAME_HEADER_LEN - 5;
        // Every prefix of the last frame, then the reserved zeros.
        for cut in last_start + 1..whole.len() {
            let mut bytes = whole[..cut].to_vec();
            bytes.extend_from_slice(&[0; 4096]);
            let (frames, tail) = scan_frames(&bytes);
            assert_eq!(frames.len(), 2, "cut at {cut}");
            assert!(
                matches!(tail, Tail::Torn { at, .. } if at == last_start),
                "cut at {cut}: {tail:?}"
            );
        }
        // But a bad frame with anything other than zeros after it is damage.
        let mut bytes = whole[..whole.len() - 1].to_vec();
        bytes.extend_from_slice(&[0; 100]);
        bytes.push(1);
        assert!(matches!(scan_frames(&bytes).1, Tail::Corrupt { .. }));
    }
}
