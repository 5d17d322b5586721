//! One typed method per module request a handler sends to create, change
//! or release the material of a key its `Change` covers: each builds its
//! request, sends it through the scope check of [`ChangeModule::call`],
//! and returns that request's answer type (a wrong answer is
//! [`strongroom_hsm_proto::HsmError::Internal`], made in one place,
//! `Response::into_*`).

use strongroom_hsm_proto::{DataKey, Ekt, HsmError, KeyRef, KeySpecCode, Request, TransientEkt};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::ChangeModule;

impl ChangeModule<'_> {
    /// GenerateExposedKey: a new version's EKT and its material in clear.
    pub async fn generate_exposed_key(
        self,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<(Ekt, Zeroizing<Vec<u8>>), HsmError> {
        self.call(Request::GenerateExposedKey { key, spec })
            .await?
            .into_exposed_key()
    }

    /// GenerateOwnedBackingKey: a new version bound to a suspension owner.
    pub async fn generate_owned_backing_key(
        self,
        key: KeyRef,
        spec: KeySpecCode,
        suspension_owner: Vec<u8>,
    ) -> Result<Ekt, HsmError> {
        let request = Request::GenerateOwnedBackingKey {
            key,
            spec,
            suspension_owner,
        };
        self.call(request).await?.into_ekt()
    }

    /// GenerateVolatileKey: a transient EKT, for installing in every member.
    pub async fn generate_volatile_key(
        self,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<TransientEkt, HsmError> {
        self.call(Request::GenerateVolatileKey { key, spec })
            .await?
            .into_transient_ekt()
    }

    /// RotateBackingKey: the next version, inheriting `previous`'s spec and
    /// owner.
    pub async fn rotate_backing_key(self, key: KeyRef, previous: Ekt) -> Result<Ekt, HsmError> {
        self.call(Request::RotateBackingKey { key, previous })
            .await?
            .into_ekt()
    }

    /// DeriveKey: a key derived for `context`, and its token.
    pub async fn derive_key(
        self,
        key: KeyRef,
        ekt: Ekt,
        context: Vec<u8>,
        length: u16,
    ) -> Result<DataKey, HsmError> {
        let request = Request::DeriveKey {
            key,
            ekt,
            context,
            length,
        };
        self.call(request).await?.into_data_key()
    }

    /// RevealDerivedKey: the derived key a token of this key stands for.
    pub async fn reveal_derived_key(
        self,
        key: KeyRef,
        ekt: Ekt,
        token: Vec<u8>,
        context: Vec<u8>,
    ) -> Result<DataKey, HsmError> {
        let request = Request::RevealDerivedKey {
            key,
            ekt,
            token,
            context,
        };
        self.call(request).await?.into_data_key()
    }

    /// PrepareImport: the wrapping public key and the import token.
    pub async fn prepare_import(
        self,
        key_id: Uuid,
        wrapping_spec: KeySpecCode,
        algorithm: String,
        valid_to: u64,
    ) -> Result<(Vec<u8>, Vec<u8>), HsmError> {
        let request = Request::PrepareImport {
            key_id,
            wrapping_spec,
            algorithm,
            valid_to,
        };
        self.call(request).await?.into_import_parameters()
    }

    /// ImportKeyMaterial: the imported version's EKT and the material's
    /// fingerprint.
    pub async fn import_key_material(
        self,
        key: KeyRef,
        import_token: Vec<u8>,
        encrypted_material: Vec<u8>,
    ) -> Result<(Ekt, Vec<u8>), HsmError> {
        let request = Request::ImportKeyMaterial {
            key,
            import_token,
            encrypted_material,
        };
        self.call(request).await?.into_imported()
    }

    /// SuspendKey: every version wrapped to the owner, and the bundle's
    /// fingerprint.
    pub async fn suspend_key(
        self,
        key_id: Uuid,
        versions: Vec<(KeyRef, Ekt)>,
        owner_public_key: Vec<u8>,
    ) -> Result<(Vec<u8>, Vec<u8>), HsmError> {
        let request = Request::SuspendKey {
            key_id,
            versions,
            owner_public_key,
        };
        self.call(request).await?.into_suspended()
    }

    /// ReinstateKey: every version sealed again.
    pub async fn reinstate_key(
        self,
        key_id: Uuid,
        import_token: Vec<u8>,
        encrypted_bundle: Vec<u8>,
        expected_fingerprint: Vec<u8>,
    ) -> Result<Vec<(KeyRef, Ekt)>, HsmError> {
        let request = Request::ReinstateKey {
            key_id,
            import_token,
            encrypted_bundle,
            expected_fingerprint,
        };
        self.call(request).await?.into_reinstated()
    }

    /// UpdateSuspensionOwner: every version sealed again, bound to
    /// `new_owner` (the statement `signature` signs, valid to `valid_to`).
    pub async fn update_suspension_owner(
        self,
        key_id: Uuid,
        versions: Vec<(KeyRef, Ekt)>,
        current_owner: Vec<u8>,
        new_owner: Vec<u8>,
        valid_to: u64,
        signature: Vec<u8>,
    ) -> Result<Vec<(KeyRef, Ekt)>, HsmError> {
        let request = Request::UpdateSuspensionOwner {
            key_id,
            versions,
            current_owner,
            new_owner,
            valid_to,
            signature,
        };
        self.call(request).await?.into_reinstated()
    }
}
