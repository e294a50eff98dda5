//! The event-store conformance suite, run against every backend.

use factum_tests::backends::{self, TestStore};
use factum_tests::store_conformance_tests;

async fn nothing<S>(_: TestStore<S>) {}

store_conformance_tests!(memory, backends::memory, nothing);
store_conformance_tests!(sqlite_file, backends::sqlite_file, nothing);
store_conformance_tests!(sqlite_memory, backends::sqlite_memory, nothing);
store_conformance_tests!(postgres, backends::postgres, TestStore::cleanup);
