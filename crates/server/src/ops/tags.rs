//! TagResource, UntagResource, ListResourceTags.

use serde::{Deserialize, Serialize};
use strongroom_store::{KeyState, Tag};

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::ops::keys::{check_tags, page_limit};
use crate::processor::Processor;
use crate::protocol::Empty;

/// AWS's limit of tags per key.
const MAX_TAGS: usize = 50;

/// TagResource input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResourceRequest {
    pub key_id: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

/// UntagResource input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UntagResourceRequest {
    pub key_id: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

/// ListResourceTags input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListResourceTagsRequest {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

/// ListResourceTags output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsResponse {
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

fn required_list<T>(v: Option<Vec<T>>, name: &str) -> Result<Vec<T>, KmsError> {
    v.ok_or_else(|| {
        KmsError::Validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn refuse_pending_deletion(
    p: &Processor,
    key: &strongroom_store::KeyRecord,
) -> Result<(), KmsError> {
    if key.state == KeyState::PendingDeletion {
        return Err(KmsError::InvalidState(format!(
            "{} is pending deletion.",
            p.key_arn(key)
        )));
    }
    Ok(())
}

impl Processor {
    pub(crate) async fn tag_resource(
        &self,
        rq: &mut RequestCtx<'_>,
        req: TagResourceRequest,
    ) -> Result<Empty, KmsError> {
        let tags = required_list(req.tags, "tags")?;
        check_tags(&tags)?;
        self.modify_key(rq, &req.key_id, |p, k| {
            refuse_pending_deletion(p, k)?;
            for t in tags {
                match k.tags.iter_mut().find(|e| e.key == t.key) {
                    Some(existing) => existing.value = t.value,
                    None => k.tags.push(t),
                }
            }
            if k.tags.len() > MAX_TAGS {
                return Err(KmsError::LimitExceeded(format!(
                    "A KMS key can have at most {MAX_TAGS} tags."
                )));
            }
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn untag_resource(
        &self,
        rq: &mut RequestCtx<'_>,
        req: UntagResourceRequest,
    ) -> Result<Empty, KmsError> {
        let keys = required_list(req.tag_keys, "tagKeys")?;
        if keys.is_empty() || keys.len() > MAX_TAGS {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must have length between 1 and {MAX_TAGS}"
            )));
        }
        if let Some(bad) = keys
            .iter()
            .find(|k| k.is_empty() || k.chars().count() > 128)
        {
            return Err(KmsError::Tag(format!(
                "TagKey '{bad}' must be 1 to 128 characters."
            )));
        }
        self.modify_key(rq, &req.key_id, |p, k| {
            refuse_pending_deletion(p, k)?;
            k.tags.retain(|t| !keys.contains(&t.key));
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_resource_tags(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ListResourceTagsRequest,
    ) -> Result<ListResourceTagsResponse, KmsError> {
        let limit = page_limit(req.limit, MAX_TAGS as i64, MAX_TAGS as i64)?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        // The marker is the number of tags already returned.
        let start = match req.marker.as_deref() {
            None => 0,
            Some(m) => m
                .parse::<usize>()
                .ok()
                .filter(|&n| n <= key.tags.len())
                .ok_or_else(|| KmsError::InvalidMarker("Invalid marker".into()))?,
        };
        let end = (start + limit).min(key.tags.len());
        let truncated = end < key.tags.len();
        Ok(ListResourceTagsResponse {
            tags: key.tags[start..end].to_vec(),
            next_marker: truncated.then(|| end.to_string()),
            truncated,
        })
    }
}
