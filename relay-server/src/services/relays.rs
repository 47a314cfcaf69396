//! The relay key cache: public keys of downstream relays (relay-protocol.md §6.2).
//!
//! Lookup order: `auth.static_relays`, then the local cache, then the upstream's
//! `/api/0/relays/publickeys/`. Found keys are cached for `cache.relay_expiry`, unknown ids
//! for `cache.miss_expiry`. Lookups that miss within `cache.downstream_relays_batch_interval`
//! of each other share one upstream query.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use relay_auth::{PublicKey, RelayId};
use relay_config::Config;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, Notify};

use crate::services::shutdown::ShutdownHandle;
use crate::services::upstream::{UpstreamHandle, UpstreamRequestError};

/// What relay knows about another relay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayInfo {
    pub public_key: PublicKey,
    #[serde(default)]
    pub internal: bool,
}

#[derive(Serialize)]
struct PublicKeysRequest {
    relay_ids: Vec<RelayId>,
}

/// Either answer shape of relay-protocol.md §6.2.
#[derive(Deserialize, Default)]
struct PublicKeysResponse {
    #[serde(default)]
    relays: HashMap<RelayId, Option<RelayInfo>>,
    #[serde(default)]
    public_keys: HashMap<RelayId, Option<PublicKey>>,
}

impl PublicKeysResponse {
    fn into_relays(self) -> HashMap<RelayId, Option<RelayInfo>> {
        if self.relays.is_empty() && !self.public_keys.is_empty() {
            return self
                .public_keys
                .into_iter()
                .map(|(id, key)| {
                    let info = key.map(|public_key| RelayInfo {
                        public_key,
                        internal: false,
                    });
                    (id, info)
                })
                .collect();
        }
        self.relays
    }
}

struct CacheEntry {
    info: Option<RelayInfo>,
    expires_at: Instant,
}

type Waiter = oneshot::Sender<Option<RelayInfo>>;

struct RelayKeyCacheInner {
    config: Arc<Config>,
    upstream: UpstreamHandle,
    cache: Mutex<HashMap<RelayId, CacheEntry>>,
    waiting: Mutex<HashMap<RelayId, Vec<Waiter>>>,
    wakeup: Notify,
}

/// Handle to the relay key cache; cheap to clone.
#[derive(Clone)]
pub struct RelayKeyCache {
    inner: Arc<RelayKeyCacheInner>,
}

impl RelayKeyCache {
    pub fn start(
        config: Arc<Config>,
        upstream: UpstreamHandle,
        shutdown: ShutdownHandle,
    ) -> RelayKeyCache {
        let cache = RelayKeyCache {
            inner: Arc::new(RelayKeyCacheInner {
                config,
                upstream,
                cache: Mutex::new(HashMap::new()),
                waiting: Mutex::new(HashMap::new()),
                wakeup: Notify::new(),
            }),
        };
        tokio::spawn(cache.clone().run_batches(shutdown));
        cache
    }

    /// Looks a relay up; `None` when it is unknown.
    pub async fn get(&self, relay_id: RelayId) -> Option<RelayInfo> {
        let config = &self.inner.config;
        if let Some(info) = config.static_relay(&relay_id) {
            return Some(RelayInfo {
                public_key: info.public_key,
                internal: info.internal,
            });
        }
        if let Some(entry) = self.inner.cache.lock().get(&relay_id) {
            if entry.expires_at > Instant::now() {
                return entry.info.clone();
            }
        }
        config.credentials()?;
        let (sender, receiver) = oneshot::channel();
        self.inner
            .waiting
            .lock()
            .entry(relay_id)
            .or_default()
            .push(sender);
        self.inner.wakeup.notify_one();
        receiver.await.ok().flatten()
    }

    async fn run_batches(self, shutdown: ShutdownHandle) {
        let interval = self.inner.config.downstream_relays_batch_interval();
        loop {
            tokio::select! {
                _ = self.inner.wakeup.notified() => {}
                _ = shutdown.finished() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.finished() => return,
            }
            let waiting = std::mem::take(&mut *self.inner.waiting.lock());
            if waiting.is_empty() {
                continue;
            }
            let relay_ids: Vec<RelayId> = waiting.keys().copied().collect();
            let result: Result<PublicKeysResponse, UpstreamRequestError> = self
                .inner
                .upstream
                .send_query(
                    "/api/0/relays/publickeys/",
                    &PublicKeysRequest { relay_ids },
                )
                .await;
            let relays = match result {
                Ok(response) => response.into_relays(),
                Err(error) => {
                    tracing::error!(error = %error, "error fetching public keys");
                    // Answer the waiters as unknown without caching, so the next request asks again.
                    for (_, waiters) in waiting {
                        for waiter in waiters {
                            let _ = waiter.send(None);
                        }
                    }
                    continue;
                }
            };
            let now = Instant::now();
            let config = &self.inner.config;
            let mut cache = self.inner.cache.lock();
            for (relay_id, waiters) in waiting {
                let info = relays.get(&relay_id).cloned().flatten();
                let lifetime = if info.is_some() {
                    config.relay_expiry()
                } else {
                    config.miss_expiry()
                };
                cache.insert(
                    relay_id,
                    CacheEntry {
                        info: info.clone(),
                        expires_at: now + lifetime,
                    },
                );
                for waiter in waiters {
                    let _ = waiter.send(info.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_legacy_answer_shape() {
        let id = "9568a6c9-13b0-4c26-b46a-0a863ab2048e";
        let json = format!(
            r#"{{"public_keys": {{"{id}": "1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4"}}, "relays": {{}}}}"#
        );
        let response: PublicKeysResponse = serde_json::from_str(&json).unwrap();
        let relays = response.into_relays();
        let info = relays[&id.parse::<RelayId>().unwrap()].clone().unwrap();
        assert!(!info.internal);
    }
}
