//! The repository suite, run against every backend.

use factum_tests::backends::{self, TestStore};
use factum_tests::repository_tests;

async fn nothing<S>(_: TestStore<S>) {}

repository_tests!(memory, backends::memory, nothing);
repository_tests!(sqlite_file, backends::sqlite_file, nothing);
repository_tests!(postgres, backends::postgres, TestStore::cleanup);
repository_tests!(
    nats,
    backends::nats,
    TestStore::destroy,
    without_transactions
);
