//! Integration tests: `strongroom dev` started in-process on an ephemeral
//! port, driven by the real `aws-sdk-kms` client (and a raw signing client
//! for inputs an SDK refuses to send).

mod aliases;
mod asymmetric;
mod audit;
mod audit_process;
mod authz_attacks;
mod authz_every_operation;
mod bad_input;
mod cluster;
mod common;
mod crypto;
mod derived_key_tokens;
mod extensions;
mod frontend_attacks;
mod frontend_verify;
mod grants;
mod hsm_process;
mod identities;
mod import;
mod isolation;
mod key_policy;
mod lifecycle;
mod mac;
mod material_release;
mod module_boundary;
mod module_domain;
mod module_refusals;
mod module_tokens;
mod module_workers;
mod persistence;
mod pinning;
mod proof_attacks;
mod proof_scope;
mod protocol;
mod rotation;
mod shared_store;
mod sigv4_attacks;
mod source_limits;
mod stale_frontend;
mod system_audit;
mod tags;
mod tls;
mod write_gate;
mod xks;
mod xks_health;
