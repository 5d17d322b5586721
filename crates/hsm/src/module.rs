//! The module: answers `hsm-proto` requests with its domain key and vault.

use strongroom_crypto::{SecretKey256, fill_random};
use strongroom_hsm_proto::ciphertext::CiphertextHeader;
use strongroom_hsm_proto::{
    DataKey, Ekt, HsmError, KeyRef, KeySpecCode, ModuleHandler, Request, Response,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::vault::KeyVault;
use crate::{DomainKey, credential, ekt, symmetric};

/// Module settings.
#[derive(Debug, Clone)]
pub struct ModuleConfig {
    /// How many plaintext backing keys the vault keeps.
    pub vault_capacity: usize,
}

impl Default for ModuleConfig {
    fn default() -> Self {
        Self {
            vault_capacity: 4096,
        }
    }
}

/// A security module holding one domain key.
pub struct Module {
    id: Uuid,
    domain: DomainKey,
    vault: KeyVault,
}

impl Module {
    /// A module that is a member of `domain`.
    pub fn new(domain: DomainKey, config: ModuleConfig) -> Self {
        Self {
            id: Uuid::new_v4(),
            domain,
            vault: KeyVault::new(config.vault_capacity),
        }
    }

    /// The backing key for `key`, from the vault or by opening `token`.
    fn backing_key(&mut self, key: KeyRef, token: &Ekt) -> Result<&[u8; 32], HsmError> {
        if self.vault.get(&key).is_none() {
            let (opened, _spec, secret) = ekt::open(&self.domain, token)?;
            if opened != key {
                return Err(HsmError::InvalidKeyToken);
            }
            self.vault.insert(key, &secret);
        }
        Ok(self.vault.get(&key).expect("just inserted"))
    }

    fn decrypt(
        &mut self,
        token: &Ekt,
        blob: &[u8],
        context: &[u8],
    ) -> Result<(KeyRef, Zeroizing<Vec<u8>>), HsmError> {
        let header = CiphertextHeader::parse(blob).map_err(|_| HsmError::InvalidCiphertext)?;
        let backing = self.backing_key(header.key, token)?;
        let plain = symmetric::decrypt(backing, &header, blob, context)?;
        Ok((header.key, plain))
    }

    fn generate_backing_key(&mut self, key: KeyRef, spec: KeySpecCode) -> Result<Ekt, HsmError> {
        let secret = SecretKey256::generate().map_err(|e| HsmError::Internal(e.to_string()))?;
        let token = ekt::seal(&self.domain, key, spec, &secret)?;
        self.vault.insert(key, &secret);
        Ok(token)
    }

    fn generate_data_key(
        &mut self,
        key: KeyRef,
        token: &Ekt,
        context: &[u8],
        length: u16,
        with_plaintext: bool,
    ) -> Result<DataKey, HsmError> {
        if !(1..=1024).contains(&length) {
            return Err(HsmError::InvalidRequest(
                "data key length must be 1-1024 bytes".into(),
            ));
        }
        let mut plain = Zeroizing::new(vec![0u8; usize::from(length)]);
        fill_random(&mut plain).map_err(|e| HsmError::Internal(e.to_string()))?;
        let backing = self.backing_key(key, token)?;
        let ciphertext = symmetric::encrypt(backing, key, &plain, context)?;
        Ok(DataKey {
            plaintext: with_plaintext.then_some(plain),
            ciphertext,
        })
    }
}

impl ModuleHandler for Module {
    fn handle(&mut self, request: Request) -> Result<Response, HsmError> {
        match request {
            Request::GenerateBackingKey { key, spec } => {
                self.generate_backing_key(key, spec).map(Response::Ekt)
            }
            Request::Encrypt {
                key,
                ekt,
                plaintext,
                context,
            } => {
                let backing = self.backing_key(key, &ekt)?;
                symmetric::encrypt(backing, key, &plaintext, &context).map(Response::Ciphertext)
            }
            Request::Decrypt {
                ekt,
                ciphertext,
                context,
            } => {
                let (key, plaintext) = self.decrypt(&ekt, &ciphertext, &context)?;
                Ok(Response::Plaintext { key, plaintext })
            }
            Request::ReEncrypt {
                source_ekt,
                ciphertext,
                source_context,
                destination,
                destination_ekt,
                destination_context,
            } => {
                let (_, plain) = self.decrypt(&source_ekt, &ciphertext, &source_context)?;
                let backing = self.backing_key(destination, &destination_ekt)?;
                symmetric::encrypt(backing, destination, &plain, &destination_context)
                    .map(Response::Ciphertext)
            }
            Request::GenerateDataKey {
                key,
                ekt,
                context,
                length,
                with_plaintext,
            } => self
                .generate_data_key(key, &ekt, &context, length, with_plaintext)
                .map(Response::DataKey),
            Request::GenerateRandom { length } => {
                if !(1..=1024).contains(&length) {
                    return Err(HsmError::InvalidRequest(
                        "NumberOfBytes must be 1-1024".into(),
                    ));
                }
                let mut b = vec![0u8; usize::from(length)];
                fill_random(&mut b).map_err(|e| HsmError::Internal(e.to_string()))?;
                Ok(Response::Random(b))
            }
            Request::SealCredential {
                access_key_id,
                secret,
            } => credential::seal(&self.domain, &access_key_id, &secret)
                .map(Response::SealedCredential),
            Request::DeriveSigV4Key {
                access_key_id,
                sealed,
                scope,
            } => credential::derive_sigv4(&self.domain, &access_key_id, &sealed, &scope)
                .map(Response::SigningKey),
            Request::ForgetKey { key_id } => {
                self.vault.forget(key_id);
                Ok(Response::Done)
            }
            Request::Status => Ok(Response::Status {
                module_id: self.id.to_string(),
                domain_id: self.domain.id().to_string(),
                cached_keys: self.vault.len(),
                cache_capacity: self.vault.capacity(),
                memory_locked: self.vault.is_locked(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_hsm_proto::context::canonical;

    fn module() -> Module {
        Module::new(
            DomainKey::generate().unwrap(),
            ModuleConfig { vault_capacity: 2 },
        )
    }

    #[test]
    fn decrypt_after_eviction_reopens_the_ekt() {
        let mut m = module();
        let k1 = KeyRef {
            key_id: Uuid::new_v4(),
            version: 1,
        };
        let e1 = m
            .generate_backing_key(k1, KeySpecCode::SymmetricDefault)
            .unwrap();
        let ctx = canonical(std::iter::empty());
        let Response::Ciphertext(blob) = m
            .handle(Request::Encrypt {
                key: k1,
                ekt: e1.clone(),
                plaintext: Zeroizing::new(b"x".to_vec()),
                context: ctx.clone(),
            })
            .unwrap()
        else {
            panic!("expected ciphertext")
        };
        for _ in 0..3 {
            let k = KeyRef {
                key_id: Uuid::new_v4(),
                version: 1,
            };
            m.generate_backing_key(k, KeySpecCode::SymmetricDefault)
                .unwrap();
        }
        m.vault.forget(k1.key_id);
        let (key, plain) = m.decrypt(&e1, &blob, &ctx).unwrap();
        assert_eq!((key, &plain[..]), (k1, &b"x"[..]));
    }

    #[test]
    fn ekt_of_another_key_is_refused() {
        let mut m = module();
        let k1 = KeyRef {
            key_id: Uuid::new_v4(),
            version: 1,
        };
        let k2 = KeyRef {
            key_id: Uuid::new_v4(),
            version: 1,
        };
        let e1 = m
            .generate_backing_key(k1, KeySpecCode::SymmetricDefault)
            .unwrap();
        m.vault.forget(k1.key_id);
        let err = m.handle(Request::Encrypt {
            key: k2,
            ekt: e1,
            plaintext: Zeroizing::new(vec![1]),
            context: vec![],
        });
        assert_eq!(err.unwrap_err(), HsmError::InvalidKeyToken);
    }

    #[test]
    fn data_key_and_random_lengths() {
        let mut m = module();
        let k = KeyRef {
            key_id: Uuid::new_v4(),
            version: 1,
        };
        let e = m
            .generate_backing_key(k, KeySpecCode::SymmetricDefault)
            .unwrap();
        let dk = m.generate_data_key(k, &e, &[], 32, true).unwrap();
        assert_eq!(dk.plaintext.as_ref().unwrap().len(), 32);
        let (_, p) = m.decrypt(&e, &dk.ciphertext, &[]).unwrap();
        assert_eq!(&p[..], &dk.plaintext.unwrap()[..]);
        assert!(m.generate_data_key(k, &e, &[], 0, true).is_err());
        assert!(m.generate_data_key(k, &e, &[], 1025, true).is_err());
        assert!(m.handle(Request::GenerateRandom { length: 0 }).is_err());
    }
}
