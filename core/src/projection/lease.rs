//! Leases: the right to run a projection version, held by one runner at a time (a lease
//! row renewed while running on SQLite, a session advisory lock on PostgreSQL).

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::db::ProjectionDb;
use super::{ProjectionError, ProjectionKey};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// A lease a backend holds: how it is renewed and given back.
pub(crate) trait HeldLease: Send + Sync + std::fmt::Debug {
    /// The owner to check in the batch's fence, where the backend fences by owner.
    fn owner(&self) -> Option<&str>;

    /// Keeps the lease alive; `false` if it was lost.
    fn renew<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Gives the lease back.
    fn release<'a>(self: Box<Self>, key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>>;
}

/// What a runner asks for when it tries to take a lease.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeaseAsk<'a> {
    /// The projection version.
    pub(crate) key: &'a ProjectionKey,
    /// Who asks.
    pub(crate) owner: &'a str,
    /// How long the lease lasts unless renewed, where the backend's leases expire.
    pub(crate) ttl: Duration,
}

/// A lease taken, or `None` if another runner holds it.
pub(crate) type Taken<'a> = BoxFuture<'a, Result<Option<Box<dyn HeldLease>>>>;

/// The right to run a projection version, held by one runner at a time.
#[derive(Debug)]
pub(crate) struct Lease(pub(crate) Box<dyn HeldLease>);

impl Lease {
    /// The owner to check in the batch's fence (SQLite).
    pub(crate) fn owner(&self) -> Option<&str> {
        self.0.owner()
    }
}

impl ProjectionDb {
    /// Tries to take the lease on a projection version for `owner`.
    pub(crate) async fn try_lease(
        &self,
        key: &ProjectionKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        let held = self.read_side().try_lease(key, owner, ttl).await?;
        Ok(held.map(Lease))
    }

    /// Keeps a lease alive; `false` if it was lost.
    pub(crate) async fn renew(
        &self,
        key: &ProjectionKey,
        lease: &mut Lease,
        ttl: Duration,
    ) -> Result<bool> {
        lease.0.renew(key, ttl).await
    }

    /// Gives a lease back.
    pub(crate) async fn release(&self, key: &ProjectionKey, lease: Lease) -> Result<()> {
        lease.0.release(key).await
    }
}
