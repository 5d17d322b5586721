//! Multi-Region keys: `mrk-` ids, ReplicateKey, UpdatePrimaryRegion,
//! ciphertexts, signatures and MACs that work in every region holding a
//! copy, rotation reaching replicas, deletion and per-region state, other
//! tenants, and bad input.

use std::time::{Duration, Instant};

use aws_sdk_kms::Client;
use aws_sdk_kms::config::Region;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{
    KeyMetadata, KeySpec, KeyUsageType, MacAlgorithmSpec, MultiRegionKeyType, SigningAlgorithmSpec,
    Tag,
};
use strongroom_cli::dev::DevEnvironment;

use crate::common::*;

mod deletion;
mod lifecycle;
mod refusals;
mod rotation;

const HOME: &str = "us-east-1";
const AWAY: &str = "eu-west-1";
const THIRD: &str = "us-west-2";

fn client_in(dev: &DevEnvironment, region: &str) -> Client {
    Client::from_conf(
        config_for(dev, &dev.access_key_id, &dev.secret_access_key)
            .region(Region::new(region.to_owned()))
            .build(),
    )
}

async fn new_mrk(c: &Client) -> KeyMetadata {
    c.create_key()
        .multi_region(true)
        .description("primary")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

async fn describe(c: &Client, key: &str) -> KeyMetadata {
    c.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

/// (type, primary region, replica regions) of a key's configuration.
fn shape(m: &KeyMetadata) -> (MultiRegionKeyType, String, Vec<String>) {
    let c = m.multi_region_configuration().unwrap();
    (
        c.multi_region_key_type().unwrap().clone(),
        c.primary_key().unwrap().region().unwrap().to_owned(),
        c.replica_keys()
            .iter()
            .map(|r| r.region().unwrap().to_owned())
            .collect(),
    )
}

async fn replicate(c: &Client, key: &str, region: &str) -> KeyMetadata {
    c.replicate_key()
        .key_id(key)
        .replica_region(region)
        .send()
        .await
        .unwrap()
        .replica_key_metadata
        .unwrap()
}

async fn encrypt(c: &Client, key: &str, text: &[u8]) -> Vec<u8> {
    c.encrypt()
        .key_id(key)
        .plaintext(blob(text))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner()
}

async fn decrypt(c: &Client, ct: &[u8]) -> Vec<u8> {
    c.decrypt()
        .ciphertext_blob(blob(ct))
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap()
        .into_inner()
}
