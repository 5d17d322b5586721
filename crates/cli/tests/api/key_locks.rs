//! Per-key locks seen from a client: writes to one key take turns instead
//! of failing as conflicts, and alias moves crossing between two keys (each
//! locking both) never deadlock. Retries are off, so a spurious conflict
//! would show as an error.

use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::retry::RetryConfig;

use crate::common::*;

fn without_retries(c: &Client) -> Client {
    let conf = c
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

async fn alias_target(c: &Client, name: &str) -> String {
    let page = c.list_aliases().send().await.unwrap();
    let alias = page.aliases().iter().find(|a| a.alias_name() == Some(name));
    alias.and_then(|a| a.target_key_id()).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_alias_moves_and_writes_to_one_key_all_finish() {
    let env = TestEnv::start().await;
    let c = without_retries(&env.client);
    let (k1, k2) = (new_key(&c).await, new_key(&c).await);
    for (name, key) in [("alias/left", &k1), ("alias/right", &k2)] {
        let r = c.create_alias().alias_name(name).target_key_id(key);
        r.send().await.unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..16 {
        let c = c.clone();
        let (k1, k2) = (k1.clone(), k2.clone());
        tasks.push(tokio::spawn(async move {
            // Each move locks the alias, then the key it leaves and the
            // key it goes to: left and right cross in opposite directions.
            let (to_left, to_right) = if i % 2 == 0 { (&k2, &k1) } else { (&k1, &k2) };
            let failed = |e: &dyn std::fmt::Debug| format!("{e:?}");
            let left = c.update_alias().alias_name("alias/left");
            let r = left.target_key_id(to_left).send().await;
            r.map_err(|e| failed(&e))?;
            let right = c.update_alias().alias_name("alias/right");
            let r = right.target_key_id(to_right).send().await;
            r.map_err(|e| failed(&e))?;
            let d = c.update_key_description().key_id(&k1);
            let r = d.description(format!("writer {i}")).send().await;
            r.map(|_| ()).map_err(|e| failed(&e))
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("a write waited for ever: locks deadlocked")
            .unwrap()
            .expect("a write failed instead of waiting its turn");
    }
    let id = |arn: &str| arn.rsplit('/').next().unwrap().to_owned();
    let (left, right) = (
        alias_target(&c, "alias/left").await,
        alias_target(&c, "alias/right").await,
    );
    let both = [id(&k1), id(&k2)];
    assert!(both.contains(&left) && both.contains(&right));
    let key = c.describe_key().key_id(&k1).send().await.unwrap();
    let description = key.key_metadata().unwrap().description().unwrap();
    assert!(description.starts_with("writer "), "{description}");
    env.stop().await;
}
