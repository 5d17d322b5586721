//! A new key's first version: which module request makes it (CreateKey).

use strongroom_hsm_proto::{Ekt, KeyRef, KeySpecCode};
use zeroize::Zeroizing;

use crate::error::KmsError;
use crate::processor::Processor;
use crate::protocol::Blob;

impl Processor {
    /// Generates version 1 of a new key in a module: exposed (the material
    /// comes back once, in clear), bound to a suspension owner (the module
    /// seals the owner into the EKT), or plain.
    pub(crate) async fn first_version(
        &self,
        change: &crate::processor::Change,
        version: KeyRef,
        spec: KeySpecCode,
        exposed: bool,
        suspension_owner: Option<&Blob>,
    ) -> Result<(Ekt, Option<Zeroizing<Vec<u8>>>), KmsError> {
        change.covers(version.key_id)?;
        let module = self.module_for_change(change);
        Ok(match (exposed, suspension_owner) {
            (true, _) => {
                let (ekt, material) = module.generate_exposed_key(version, spec).await?;
                (ekt, Some(material))
            }
            (false, Some(owner)) => (
                module
                    .generate_owned_backing_key(version, spec, owner.0.clone())
                    .await?,
                None,
            ),
            (false, None) => (module.generate_backing_key(version, spec).await?, None),
        })
    }
}
