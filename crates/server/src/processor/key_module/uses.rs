//! One typed method per module request a handler sends to use an
//! authorized key: each builds its request, sends it through the scope
//! check of [`KeyModule::call`], and returns that request's answer type
//! (a wrong answer is [`strongroom_hsm_proto::HsmError::Internal`], made in
//! one place, `Response::into_*`).

use strongroom_hsm_proto::xks::XksSealed;
use strongroom_hsm_proto::{Ekt, GeneratedKeyPair, HsmError, KeyRef, KeySpecCode, Request};
use zeroize::Zeroizing;

use super::KeyModule;

impl KeyModule<'_> {
    /// Sign: a signature over `message` (or the digest it is).
    pub async fn sign(
        self,
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
        digest: bool,
        algorithm: String,
    ) -> Result<Vec<u8>, HsmError> {
        let request = Request::Sign {
            key,
            ekt,
            message,
            digest,
            algorithm,
        };
        self.call(request).await?.into_signature()
    }

    /// GetPublicKey: the key version's public key, DER SPKI.
    pub async fn get_public_key(self, key: KeyRef, ekt: Ekt) -> Result<Vec<u8>, HsmError> {
        self.call(Request::GetPublicKey { key, ekt })
            .await?
            .into_public_key()
    }

    /// AsymmetricEncrypt: RSA-OAEP ciphertext of `plaintext`.
    pub async fn asymmetric_encrypt(
        self,
        key: KeyRef,
        ekt: Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        algorithm: String,
    ) -> Result<Vec<u8>, HsmError> {
        let request = Request::AsymmetricEncrypt {
            key,
            ekt,
            plaintext,
            algorithm,
        };
        self.call(request).await?.into_ciphertext()
    }

    /// AsymmetricDecrypt: the version that opened `ciphertext`, and its
    /// plaintext.
    pub async fn asymmetric_decrypt(
        self,
        key: KeyRef,
        ekt: Ekt,
        ciphertext: Vec<u8>,
        algorithm: String,
    ) -> Result<(KeyRef, Zeroizing<Vec<u8>>), HsmError> {
        let request = Request::AsymmetricDecrypt {
            key,
            ekt,
            ciphertext,
            algorithm,
        };
        self.call(request).await?.into_plaintext()
    }

    /// DeriveSharedSecret: the ECDH shared secret with `peer_public_key`
    /// (and the version that made it).
    pub async fn derive_shared_secret(
        self,
        key: KeyRef,
        ekt: Ekt,
        peer_public_key: Vec<u8>,
    ) -> Result<(KeyRef, Zeroizing<Vec<u8>>), HsmError> {
        let request = Request::DeriveSharedSecret {
            key,
            ekt,
            peer_public_key,
        };
        self.call(request).await?.into_plaintext()
    }

    /// GenerateDataKeyPair: a new key pair, its private half sealed under
    /// the key.
    pub async fn generate_data_key_pair(
        self,
        key: KeyRef,
        ekt: Ekt,
        context: Vec<u8>,
        pair_spec: KeySpecCode,
        with_plaintext: bool,
    ) -> Result<GeneratedKeyPair, HsmError> {
        let request = Request::GenerateDataKeyPair {
            key,
            ekt,
            context,
            pair_spec,
            with_plaintext,
        };
        self.call(request).await?.into_data_key_pair()
    }

    /// XksEncrypt: `plaintext` sealed for an external key store proxy, with
    /// its integrity value when `with_cdiv`.
    pub async fn xks_encrypt(
        self,
        key: KeyRef,
        ekt: Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        aad: Vec<u8>,
        with_cdiv: bool,
    ) -> Result<(XksSealed, Option<[u8; 32]>), HsmError> {
        let request = Request::XksEncrypt {
            key,
            ekt,
            plaintext,
            aad,
            with_cdiv,
        };
        self.call(request).await?.into_xks_sealed()
    }

    /// XksDecrypt: the version that opened `sealed`, and its plaintext.
    pub async fn xks_decrypt(
        self,
        key: KeyRef,
        ekt: Ekt,
        sealed: XksSealed,
        aad: Vec<u8>,
    ) -> Result<(KeyRef, Zeroizing<Vec<u8>>), HsmError> {
        let request = Request::XksDecrypt {
            key,
            ekt,
            sealed,
            aad,
        };
        self.call(request).await?.into_plaintext()
    }
}
