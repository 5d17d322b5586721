//! The module as a request handler sees it for one authorized key: only
//! the cryptographic uses of that key, never a request that changes a key
//! (those need a `Change`) or that names another key.

use strongroom_hsm_proto::{DataKey, Ekt, HsmClient, HsmError, KeyRef, Request, Response};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{AuthorizedKey, Processor};

/// The module client, narrowed to using one authorized key. Its calls
/// take it by value, so a call's future owns it.
#[derive(Clone, Copy)]
pub struct KeyModule<'a> {
    client: &'a HsmClient,
    key: Uuid,
}

impl Processor {
    /// The module, for using a key the request was authorized on (with the
    /// EKT that only the same authorization hands out).
    pub(crate) fn module(&self, authorized: &AuthorizedKey) -> KeyModule<'_> {
        KeyModule {
            client: &self.module,
            key: authorized.id,
        }
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

    /// A use of the key that is not one of the typed calls below: signing,
    /// verifying, public key, asymmetric encryption, key agreement, data
    /// key pairs, key derivation and revealing a derived key. Anything else
    /// is refused.
    pub async fn call(self, request: Request) -> Result<Response, HsmError> {
        let key = match &request {
            Request::Sign { key, .. }
            | Request::Verify { key, .. }
            | Request::GetPublicKey { key, .. }
            | Request::AsymmetricEncrypt { key, .. }
            | Request::AsymmetricDecrypt { key, .. }
            | Request::DeriveSharedSecret { key, .. }
            | Request::GenerateDataKeyPair { key, .. }
            | Request::DeriveKey { key, .. }
            | Request::RevealDerivedKey { key, .. } => *key,
            _ => {
                return Err(HsmError::Internal(
                    "this module request is not a use of an authorized key".into(),
                ));
            }
        };
        self.check(key)?;
        self.client.call(request).await
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
