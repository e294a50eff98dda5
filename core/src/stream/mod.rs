//! Streams and the log: a stream's id, the version an append expects it at, and an
//! event's position in the global log.

mod expected_version;
mod id;
mod position;

pub use expected_version::ExpectedVersion;
pub use id::{MAX_STREAM_ID_LEN, StreamId};
pub use position::Position;
