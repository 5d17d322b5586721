//! The module as a request handler sees it without a `Change`: for one
//! authorized key, only the cryptographic uses of that key, never a request
//! that changes a key, releases key material (those need a `Change`) or
//! names another key; for a keyless row, only random bytes.

use strongroom_hsm_proto::{DataKey, Ekt, HsmClient, HsmError, KeyRef, Request, Response};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::module_scope::{Scope, refused, scope};

mod uses;
use super::{AuthorizedKey, Processor};
use crate::authz::RequestCtx;
use crate::authz::operations::Operation;
use crate::error::KmsError;

/// The module client, narrowed to using one authorized key. Its calls
/// take it by value, so a call's future owns it.
#[derive(Clone, Copy)]
pub struct KeyModule<'a> {
    client: &'a HsmClient,
    key: Uuid,
}

/// The module client of a keyless row marked `#[random]` in the operation
/// table (GenerateRandom): random bytes and nothing else, so it cannot
/// name a key or change anything.
#[derive(Clone, Copy)]
pub struct KeylessModule<'a> {
    client: &'a HsmClient,
}

impl Processor {
    /// The module, for using a key the request was authorized on (with the
    /// EKT that only the same authorization hands out).
    pub(crate) fn module(&self, authorized: &AuthorizedKey) -> KeyModule<'_> {
        KeyModule::narrowed_to(&self.module, authorized.material_id())
    }

    /// The module, for a keyless row the table marks `#[random]`
    /// (GenerateRandom) once its identity-policy decision was made.
    pub(crate) fn keyless_module(
        &self,
        rq: &RequestCtx<'_>,
    ) -> Result<KeylessModule<'_>, KmsError> {
        if !keyless_row_may_use_module(rq.operation(), rq.satisfied()) {
            return Err(super::change::unsatisfied(rq));
        }
        Ok(KeylessModule {
            client: &self.module,
        })
    }
}

/// Whether a keyless row may have the keyless module: only a row the table
/// marks `#[random]`, and only once its decision was made.
pub(super) fn keyless_row_may_use_module(row: &Operation, satisfied: bool) -> bool {
    row.is_keyless() && row.random && satisfied
}

impl KeylessModule<'_> {
    /// `length` random bytes from the module's CSPRNG.
    pub async fn generate_random(self, length: u16) -> Result<Vec<u8>, HsmError> {
        self.client.generate_random(length).await
    }
}

impl<'a> KeyModule<'a> {
    /// `client`, narrowed to using `key`.
    pub(super) fn narrowed_to(client: &'a HsmClient, key: Uuid) -> Self {
        Self { client, key }
    }
}

impl KeyModule<'_> {
    fn check(&self, key: KeyRef) -> Result<(), HsmError> {
        if key.key_id == self.key {
            Ok(())
        } else {
            Err(HsmError::Internal(format!(
                "a module request for key {} under the authorization of {}",
                key.key_id, self.key
            )))
        }
    }

    /// A use of the key (signing, verifying, public key, asymmetric
    /// encryption, key agreement, data key pairs, and the typed uses below).
    /// Anything that names another key, changes a key or releases key
    /// material (DeriveKey, RevealDerivedKey: only through a `Change`) is
    /// refused before it is sent.
    pub async fn call(self, request: Request) -> Result<Response, HsmError> {
        match scope(&request) {
            Scope::UseOf(key) if key == self.key => self.client.call(request).await,
            Scope::UseOf(_) | Scope::ChangeOf(_) | Scope::Never => {
                Err(refused(&request, "authorized key's", &[self.key]))
            }
        }
    }

    /// Encrypts under the key.
    pub async fn encrypt(
        self,
        key: KeyRef,
        ekt: Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        context: Vec<u8>,
    ) -> Result<Vec<u8>, HsmError> {
        self.check(key)?;
        self.client.encrypt(key, ekt, plaintext, context).await
    }

    /// Decrypts with the key's EKT (the module checks the ciphertext names
    /// the key the EKT seals).
    pub async fn decrypt(
        self,
        ekt: Ekt,
        ciphertext: Vec<u8>,
        context: Vec<u8>,
    ) -> Result<(KeyRef, Zeroizing<Vec<u8>>), HsmError> {
        self.client.decrypt(ekt, ciphertext, context).await
    }

    /// Re-encrypts to the key (the destination; the source EKT comes from
    /// the source key's own authorization).
    pub async fn re_encrypt(self, request: Request) -> Result<Vec<u8>, HsmError> {
        match &request {
            Request::ReEncrypt { destination, .. } => self.check(*destination)?,
            _ => return Err(HsmError::Internal("not a ReEncrypt request".into())),
        }
        self.client.re_encrypt(request).await
    }

    /// Generates a data key under the key.
    pub async fn generate_data_key(
        self,
        key: KeyRef,
        ekt: Ekt,
        context: Vec<u8>,
        length: u16,
        with_plaintext: bool,
    ) -> Result<DataKey, HsmError> {
        self.check(key)?;
        self.client
            .generate_data_key(key, ekt, context, length, with_plaintext)
            .await
    }

    /// Computes a MAC with the key.
    pub async fn generate_mac(
        self,
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
    ) -> Result<Vec<u8>, HsmError> {
        self.check(key)?;
        self.client.generate_mac(key, ekt, message).await
    }

    /// Verifies a MAC with the key.
    pub async fn verify_mac(
        self,
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
        mac: Vec<u8>,
    ) -> Result<bool, HsmError> {
        self.check(key)?;
        self.client.verify_mac(key, ekt, message, mac).await
    }
}
