//! The module protocol's frames (crates/hsm-proto/src/frame.rs): what a
//! module reads from any TLS peer, and a frontend from a module.
//! Input: a selector byte (which peer limit applies: every class up to its
//! bound, or control frames up to `UNLISTED_MAX` only, as a module reads
//! from a host no domain lists), then a byte stream of frames.
//! Asserts: never panics; a frame is refused from its 14-byte header alone
//! when its version, class or length is not acceptable (`TooLarge` exactly
//! when the declared length is over the limit, with nothing of the body
//! read), so a declared length costs nothing until bytes arrive; every
//! frame read is within its limit and re-encodes to the bytes it came
//! from; a payload that decodes as a request or a result re-encodes to
//! bytes that decode and re-encode identically.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use strongroom_hsm_proto::codec::{decode_bare, encode_bare};
use strongroom_hsm_proto::frame::{
    FrameClass, FrameError, HEADER_LEN, UNLISTED_MAX, WIRE_VERSION, encode_frame, read_frame,
};
use strongroom_hsm_proto::{HsmError, Request, Response};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
});

fn stable<T: serde::Serialize + serde::de::DeserializeOwned>(payload: &[u8]) {
    let Ok(msg) = decode_bare::<T>(payload) else {
        return;
    };
    let first = encode_bare(&msg);
    let again: T = decode_bare(&first).expect("a re-encoded message decodes");
    assert_eq!(first, encode_bare(&again));
}

fn any(c: FrameClass) -> Option<usize> {
    Some(c.max_len())
}

fn unlisted(c: FrameClass) -> Option<usize> {
    (c == FrameClass::Control).then_some(UNLISTED_MAX)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut stream)) = data.split_first() else {
        return;
    };
    let limit: fn(FrameClass) -> Option<usize> = if mode % 2 == 0 { any } else { unlisted };
    RUNTIME.block_on(async {
        loop {
            let before = stream;
            let declared = before.get(..HEADER_LEN).map(|h| {
                (
                    h[0],
                    h[1],
                    u32::from_be_bytes(h[10..14].try_into().expect("4 bytes")) as usize,
                )
            });
            match read_frame(&mut stream, limit).await {
                Ok(None) => {
                    assert!(before.is_empty());
                    break;
                }
                Ok(Some(frame)) => {
                    let lim = limit(frame.class).expect("class accepted");
                    assert!(frame.payload.len() <= lim.min(frame.class.max_len()));
                    let consumed = before.len() - stream.len();
                    let again = encode_frame(frame.class, frame.id, &frame.payload);
                    assert_eq!(&again[..], &before[..consumed]);
                    stable::<Request>(&frame.payload);
                    stable::<Result<Response, HsmError>>(&frame.payload);
                }
                Err(e) => {
                    if let FrameError::TooLarge {
                        class,
                        len,
                        limit: l,
                    } = e
                    {
                        let (v, c, n) = declared.expect("a whole header was read");
                        assert_eq!((v, c as usize, n), (WIRE_VERSION, class as usize, len));
                        assert!(len > l);
                        assert_eq!(
                            before.len() - stream.len(),
                            HEADER_LEN,
                            "read past the header of a refused frame"
                        );
                    } else if let Some((v, c, n)) = declared {
                        // A whole header that is acceptable fails only for
                        // want of body bytes.
                        if v == WIRE_VERSION
                            && let Some(class) = [FrameClass::Control, FrameClass::Bulk]
                                .into_iter()
                                .find(|k| *k as u8 == c)
                            && let Some(l) = limit(class)
                            && n <= l.min(class.max_len())
                        {
                            assert!(matches!(e, FrameError::Io(_)), "{e}");
                            assert!(before.len() < HEADER_LEN + n);
                        }
                    }
                    break;
                }
            }
        }
    });
});
