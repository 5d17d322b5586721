//! The audit log's segment and footer files (crates/audit/src/segment.rs,
//! frame.rs, footer.rs): what recovery, `verify`, `query` and `export`
//! read from disk, which an attacker with write access to the directory
//! controls. Input: the bytes of a file.
//! Asserts: never panics; the frames found re-encode to exactly the bytes
//! they came from; a torn tail is only what an interrupted append leaves
//! (zeros, a frame that runs past the end, or a bad last frame with only
//! zeros after it), so recovery never cuts off a whole record; a
//! segment's records are consecutive from its header's first sequence
//! number, end at `valid_len`, and decode again from their re-encoding;
//! a footer that decodes re-encodes to bytes that decode to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_audit::{
    FRAME_HEADER_LEN, SealedFooter, Tail, decode_record, encode_record, parse_segment, push_frame,
    scan_frames,
};

fuzz_target!(|data: &[u8]| {
    let (frames, tail) = scan_frames(data);
    let mut again = Vec::new();
    for f in &frames {
        push_frame(&mut again, &data[f.clone()]);
    }
    let end = frames.last().map_or(0, |f| f.end);
    assert_eq!(&again[..], &data[..end]);
    match tail {
        Tail::Clean => assert_eq!(end, data.len()),
        Tail::Torn { at, .. } => {
            assert_eq!(at, end);
            let rest = &data[at..];
            let zeros = rest.iter().all(|&b| b == 0);
            let declared_end = (rest.len() >= FRAME_HEADER_LEN).then(|| {
                FRAME_HEADER_LEN
                    + u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize
            });
            let runs_past = declared_end.is_none_or(|e| e >= rest.len());
            // A bad frame with only zeros after it: a write cut short in
            // the blocks reserved ahead of the records.
            let then_zeros = declared_end
                .is_some_and(|e| e <= rest.len() && rest[e..].iter().all(|&b| b == 0));
            assert!(
                zeros || runs_past || then_zeros,
                "a torn tail with a whole frame after it"
            );
        }
        Tail::Corrupt { at, .. } => assert_eq!(at, end),
    }

    if let Ok(seg) = parse_segment(data) {
        assert!(seg.valid_len as usize <= data.len());
        for (i, r) in seg.records.iter().enumerate() {
            assert_eq!(r.seq, seg.header.first_seq + i as u64);
            let bytes = encode_record(r.seq, &r.record);
            let (seq, back) = decode_record(&bytes).expect("a re-encoded record decodes");
            assert_eq!((seq, &back), (r.seq, &r.record));
        }
        assert_eq!(
            seg.head,
            seg.records.last().map_or(seg.header.prev_head, |r| r.hash)
        );
    }

    if let Ok(footer) = SealedFooter::decode(data) {
        let bytes = footer.encode();
        assert_eq!(SealedFooter::decode(&bytes).expect("decodes"), footer);
    }
});
