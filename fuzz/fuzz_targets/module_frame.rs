//! The module protocol's frames (crates/hsm-proto/src/net.rs): what a
//! module reads from any TLS peer, and a frontend from a module.
//! Input: a byte stream of length-prefixed frames.
//! Asserts: never panics; every frame read re-frames to the same bytes;
//! a frame that decodes as a request or a response re-encodes to bytes
//! that decode and re-encode identically.
//!
//! A frame declaring more than [`SLOW_FRAME`] bytes beyond what the input
//! holds ends the input unread: `read_frame` allocates (and zeroizes on
//! drop) the declared length, up to 64 MiB, before reading a byte of it
//! (issue 10 finding 5), which would hold the fuzzer to a few runs per
//! second. Drop this once frames are bounded per message type.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use strongroom_hsm_proto::admin::decode;
use strongroom_hsm_proto::net::{WireRequest, WireResponse, encode_wire, read_frame, write_frame};

/// How far past the input's end a declared frame length may reach.
const SLOW_FRAME: usize = 64 * 1024;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
});

fn stable<T: serde::Serialize + serde::de::DeserializeOwned>(frame: &[u8]) {
    let Ok(msg) = decode::<T>(frame) else {
        return;
    };
    let first = encode_wire(&msg);
    let again: T = decode(&first).expect("a re-encoded message decodes");
    assert_eq!(*first, *encode_wire(&again));
}

fuzz_target!(|data: &[u8]| {
    RUNTIME.block_on(async {
        let mut stream = data;
        loop {
            if let Some(len) = stream.get(..4) {
                let declared = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
                if declared > stream.len() - 4 + SLOW_FRAME {
                    break;
                }
            }
            let Ok(Some(frame)) = read_frame(&mut stream).await else {
                break;
            };
            let mut out = Vec::new();
            write_frame(&mut out, &frame).await.expect("write to a Vec");
            let mut reread = &out[..];
            let back = read_frame(&mut reread)
                .await
                .expect("reread")
                .expect("a frame");
            assert_eq!(*back, *frame);
            stable::<WireRequest>(&frame);
            stable::<WireResponse>(&frame);
        }
    });
});
