//! Decoding never allocates more than its input justifies: a length prefix
//! claiming gigabytes in a few bytes is refused before any buffer is sized
//! from it. Measured with a counting allocator (the largest single
//! allocation made on the decoding thread), not with timing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use strongroom_hsm_proto::admin::{DomainToken, SignedCommand};
use strongroom_hsm_proto::codec::{FORMAT_VERSION, decode, decode_bare, encode_bare};
use strongroom_hsm_proto::{Ekt, HsmError, Request, Response};

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        // SAFETY: same layout, same contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
        // SAFETY: same contract as `System::realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn largest_allocation_in(f: impl FnOnce()) -> usize {
    LARGEST.with(|l| l.set(0));
    f();
    LARGEST.with(|l| l.get())
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// `encoded` with its final byte (an empty vector's zero length) replaced by
/// a claim of `claimed` elements, and a few bytes of padding.
fn claiming(mut encoded: Vec<u8>, claimed: u64) -> Vec<u8> {
    assert_eq!(
        encoded.pop(),
        Some(0),
        "the template must end in an empty vector"
    );
    encoded.extend(varint(claimed));
    encoded.extend([7u8; 8]);
    encoded
}

const CLAIMS: [u64; 4] = [64 << 20, 4 << 30, u32::MAX as u64, u64::MAX >> 1];

#[test]
fn huge_length_prefixes_in_signed_bodies_are_refused_without_allocating_them() {
    for claimed in CLAIMS {
        // A domain token whose body (Vec<u8>) claims `claimed` bytes.
        let mut token = vec![FORMAT_VERSION];
        token.extend(varint(claimed));
        token.extend([0u8; 8]);
        let grown = largest_allocation_in(|| assert!(decode::<DomainToken>(&token).is_err()));
        assert!(grown < 4096, "{claimed}: allocated {grown} bytes");
        // A signed command whose signature list (wider elements) claims it.
        let mut cmd = vec![FORMAT_VERSION];
        cmd.extend(encode_bare(&SignedCommand {
            body: vec![],
            signatures: vec![],
        }));
        let cmd = claiming(cmd, claimed);
        let grown = largest_allocation_in(|| assert!(decode::<SignedCommand>(&cmd).is_err()));
        assert!(grown < 4096, "{claimed}: allocated {grown} bytes");
    }
}

#[test]
fn huge_length_prefixes_in_wire_messages_are_refused_without_allocating_them() {
    for claimed in CLAIMS {
        let request = claiming(encode_bare(&Request::RewrapKeys { ekts: vec![] }), claimed);
        let grown = largest_allocation_in(|| assert!(decode_bare::<Request>(&request).is_err()));
        assert!(grown < 4096, "{claimed}: allocated {grown} bytes");
        let response = claiming(
            encode_bare(&Ok::<_, HsmError>(Response::Ekts(vec![]))),
            claimed,
        );
        let grown = largest_allocation_in(|| {
            assert!(decode_bare::<Result<Response, HsmError>>(&response).is_err())
        });
        assert!(grown < 4096, "{claimed}: allocated {grown} bytes");
    }
}

#[test]
fn the_counting_allocator_sees_large_allocations() {
    let seen = largest_allocation_in(|| drop(std::hint::black_box(vec![1u8; 1 << 20])));
    assert!(seen >= 1 << 20, "{seen}");
}

#[test]
fn a_genuine_message_still_decodes() {
    let bytes = encode_bare(&Request::RewrapKeys {
        ekts: vec![Ekt(vec![1; 100]); 3],
    });
    let back: Request = decode_bare(&bytes).unwrap();
    assert!(matches!(back, Request::RewrapKeys { ekts } if ekts.len() == 3));
}
