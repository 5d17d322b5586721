//! TagResource, UntagResource, ListResourceTags.

use serde::{Deserialize, Serialize};
use strongroom_store::Tag;

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::ops::keys::{check_tags, page_limit};
use crate::processor::Processor;
use crate::protocol::Empty;
use crate::validate::{self, Presence::*, Validate, Validator, shapes};

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

impl Validate for TagResourceRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.tags(self.tags.as_deref(), Required);
    }
}

impl Validate for UntagResourceRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        let keys = self.tag_keys.as_deref();
        v.string_list("tagKeys", keys, (0, usize::MAX), &shapes::TAG_KEY, Required);
    }
}

impl Validate for ListResourceTagsRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.integer("limit", self.limit, &shapes::LIMIT, Optional);
        v.string("marker", self.marker.as_deref(), &shapes::MARKER, Optional);
    }
}

impl Processor {
    pub(crate) async fn tag_resource(
        &self,
        rq: &mut RequestCtx<'_>,
        req: TagResourceRequest,
    ) -> Result<Empty, KmsError> {
        let tags = req.tags.ok_or_else(|| validate::null("tags"))?;
        check_tags(&tags)?;
        self.modify_key(rq, &req.key_id, |_, k| {
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
        let keys = req.tag_keys.ok_or_else(|| validate::null("tagKeys"))?;
        self.modify_key(rq, &req.key_id, |_, k| {
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
        let limit = page_limit(req.limit, MAX_TAGS, MAX_TAGS);
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
