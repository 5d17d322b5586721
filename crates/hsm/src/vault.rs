//! The key vault: a bounded cache of plaintext backing keys in one locked
//! region of memory, zeroized on eviction and on drop.

use std::collections::HashMap;

use strongroom_crypto::SecretKey256;
use strongroom_hsm_proto::{KeyRef, KeySpecCode};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

const KEY_LEN: usize = 32;

/// A fixed slab of key slots, locked into RAM (mlock) when the OS allows.
///
/// One region locked once: locking each key separately would not work,
/// since unlocking one page would unlock its neighbours too.
struct LockedSlab {
    bytes: Zeroizing<Vec<u8>>,
    _lock: Option<region::LockGuard>,
}

impl LockedSlab {
    fn new(slots: usize) -> Self {
        let bytes = Zeroizing::new(vec![0u8; slots * KEY_LEN]);
        let lock = match region::lock(bytes.as_ptr(), bytes.len()) {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::warn!(error = %e, "could not mlock the key vault; keys may be swapped");
                None
            }
        };
        exclude_from_core_dumps(&bytes);
        Self { bytes, _lock: lock }
    }

    fn slot(&self, i: usize) -> &[u8; KEY_LEN] {
        self.bytes[i * KEY_LEN..(i + 1) * KEY_LEN]
            .try_into()
            .expect("slot size")
    }

    fn write(&mut self, i: usize, key: &SecretKey256) {
        self.bytes[i * KEY_LEN..(i + 1) * KEY_LEN].copy_from_slice(key.expose());
    }

    fn wipe(&mut self, i: usize) {
        self.bytes[i * KEY_LEN..(i + 1) * KEY_LEN].zeroize();
    }
}

/// MADV_DONTDUMP on the slab's whole pages, so even a permitted core dump
/// leaves the keys out. Best effort: the module also makes itself
/// non-dumpable.
#[allow(unsafe_code)]
fn exclude_from_core_dumps(bytes: &[u8]) {
    let page = 4096usize;
    let start = (bytes.as_ptr() as usize).div_ceil(page) * page;
    let end = (bytes.as_ptr() as usize + bytes.len()) / page * page;
    if end > start {
        // SAFETY: the range lies inside `bytes`, which outlives the call;
        // MADV_DONTDUMP changes only core-dump behaviour, never contents.
        let r = unsafe {
            rustix::mm::madvise(
                start as *mut core::ffi::c_void,
                end - start,
                rustix::mm::Advice::LinuxDontDump,
            )
        };
        if let Err(e) = r {
            tracing::debug!(error = %e, "madvise(MADV_DONTDUMP) failed");
        }
    }
}

struct SlotUse {
    key: KeyRef,
    domain: Uuid,
    spec: KeySpecCode,
    /// SHA-256 of the sealed token the material came from (or was sealed
    /// into): a hit needs the same token, so material cached from a token
    /// the store never kept (a lost rotation race, a refused import) is
    /// never used for another token of the same version.
    token: [u8; 32],
    uses: u64,
    last_used: u64,
}

/// Bounded cache of backing keys; keeps the most used, evicts the least
/// used (oldest first among equals) when full.
pub struct KeyVault {
    slab: LockedSlab,
    index: HashMap<KeyRef, usize>,
    slots: Vec<Option<SlotUse>>,
    tick: u64,
}

impl KeyVault {
    /// A vault with room for `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            slab: LockedSlab::new(capacity),
            index: HashMap::with_capacity(capacity),
            slots: (0..capacity).map(|_| None).collect(),
            tick: 0,
        }
    }

    /// Whether the vault memory is locked.
    pub fn is_locked(&self) -> bool {
        self.slab._lock.is_some()
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Room in slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Bytes of locked memory.
    pub fn locked_bytes(&self) -> usize {
        if self.is_locked() {
            self.slab.bytes.len()
        } else {
            0
        }
    }

    /// The cached key for `key` of `domain` and `spec`, counting the use,
    /// if it came from the token whose SHA-256 is `token`. A key cached
    /// for another domain, spec or token is not returned: the caller must
    /// open the token it holds.
    pub fn get(
        &mut self,
        key: &KeyRef,
        domain: Uuid,
        spec: KeySpecCode,
        token: &[u8; 32],
    ) -> Option<&[u8; KEY_LEN]> {
        let i = *self.index.get(key)?;
        self.tick += 1;
        let u = self.slots[i].as_mut().expect("indexed slot is used");
        if u.domain != domain || u.spec != spec || &u.token != token {
            return None;
        }
        u.uses += 1;
        u.last_used = self.tick;
        Some(self.slab.slot(i))
    }

    /// Caches `secret` for `key`, from (or sealed into) the token whose
    /// SHA-256 is `token`, evicting the least used key if full.
    pub fn insert(
        &mut self,
        key: KeyRef,
        domain: Uuid,
        spec: KeySpecCode,
        secret: &SecretKey256,
        token: [u8; 32],
    ) -> &[u8; KEY_LEN] {
        self.tick += 1;
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let i = match self.slots.iter().position(Option::is_none) {
                    Some(free) => free,
                    None => self.evict_one(),
                };
                self.index.insert(key, i);
                i
            }
        };
        self.slab.write(i, secret);
        self.slots[i] = Some(SlotUse {
            key,
            domain,
            spec,
            token,
            uses: 1,
            last_used: self.tick,
        });
        self.slab.slot(i)
    }

    fn evict_one(&mut self) -> usize {
        let (i, _) = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|u| (i, (u.uses, u.last_used))))
            .min_by_key(|(_, rank)| *rank)
            .expect("vault is full, so some slot is used");
        self.remove_slot(i);
        // Halve counts so keys that were hot long ago can age out.
        for u in self.slots.iter_mut().flatten() {
            u.uses = u.uses.div_ceil(2);
        }
        i
    }

    fn remove_slot(&mut self, i: usize) {
        if let Some(u) = self.slots[i].take() {
            self.index.remove(&u.key);
        }
        self.slab.wipe(i);
    }

    /// Zeroizes every key; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.index.len();
        for i in 0..self.slots.len() {
            self.remove_slot(i);
        }
        n
    }

    /// Drops and zeroizes every version of `key_id` cached for `domain`
    /// (for any domain when none is given).
    pub fn forget(&mut self, key_id: Uuid, domain: Option<Uuid>) -> usize {
        let slots = &self.slots;
        let doomed: Vec<usize> = self
            .index
            .iter()
            .filter(|&(k, &i)| {
                k.key_id == key_id
                    && slots[i]
                        .as_ref()
                        .is_some_and(|u| domain.is_none_or(|d| d == u.domain))
            })
            .map(|(_, &i)| i)
            .collect();
        let n = doomed.len();
        for i in doomed {
            self.remove_slot(i);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    /// The token digest the tests' keys came from.
    const T: [u8; 32] = [0xee; 32];
    use super::*;

    const D: Uuid = Uuid::nil();
    const S: KeySpecCode = KeySpecCode::SymmetricDefault;

    #[test]
    fn another_domains_cached_key_is_not_returned() {
        let mut v = KeyVault::new(2);
        v.insert(kr(1), D, S, &SecretKey256::from_bytes([1; 32]), T);
        assert!(v.get(&kr(1), Uuid::from_u128(5), S, &T).is_none());
        assert!(v.get(&kr(1), D, KeySpecCode::Hmac256, &T).is_none());
        assert!(v.get(&kr(1), D, S, &T).is_some());
        assert_eq!(v.clear(), 1);
        assert!(!v.slab.bytes.iter().any(|&b| b != 0));
    }

    fn kr(n: u128) -> KeyRef {
        KeyRef {
            key_id: Uuid::from_u128(n),
            version: 1,
        }
    }

    #[test]
    fn keeps_most_used_and_wipes_evicted() {
        let mut v = KeyVault::new(2);
        v.insert(kr(1), D, S, &SecretKey256::from_bytes([1; 32]), T);
        v.insert(kr(2), D, S, &SecretKey256::from_bytes([2; 32]), T);
        for _ in 0..5 {
            assert_eq!(v.get(&kr(1), D, S, &T).unwrap(), &[1; 32]);
        }
        v.insert(kr(3), D, S, &SecretKey256::from_bytes([3; 32]), T);
        assert!(v.get(&kr(2), D, S, &T).is_none(), "least used key evicted");
        assert_eq!(v.get(&kr(1), D, S, &T).unwrap(), &[1; 32]);
        assert_eq!(v.get(&kr(3), D, S, &T).unwrap(), &[3; 32]);
        assert_eq!(v.len(), 2);
        // The evicted slot was reused, and no slot still holds key 2's bytes.
        assert!(!v.slab.bytes.chunks(32).any(|c| c == [2; 32]));
    }

    #[test]
    fn material_cached_from_one_token_is_not_used_for_another_of_the_same_version() {
        // A lost rotation race or a refused import leaves material cached
        // for a version whose stored token holds other material.
        let mut v = KeyVault::new(2);
        v.insert(kr(1), D, S, &SecretKey256::from_bytes([6; 32]), [1; 32]);
        assert!(v.get(&kr(1), D, S, &[2; 32]).is_none(), "another token hit");
        assert_eq!(v.get(&kr(1), D, S, &[1; 32]).unwrap(), &[6; 32]);
    }

    #[test]
    fn forget_zeroizes_all_versions() {
        let mut v = KeyVault::new(4);
        let a1 = KeyRef {
            key_id: Uuid::from_u128(9),
            version: 1,
        };
        let a2 = KeyRef {
            key_id: Uuid::from_u128(9),
            version: 2,
        };
        v.insert(a1, D, S, &SecretKey256::from_bytes([7; 32]), T);
        v.insert(a2, D, S, &SecretKey256::from_bytes([8; 32]), T);
        v.insert(kr(1), D, S, &SecretKey256::from_bytes([1; 32]), T);
        v.forget(Uuid::from_u128(9), None);
        assert_eq!(v.len(), 1);
        assert!(v.get(&a1, D, S, &T).is_none() && v.get(&a2, D, S, &T).is_none());
        assert!(
            !v.slab
                .bytes
                .chunks(32)
                .any(|c| c == [7; 32] || c == [8; 32])
        );
    }
}
