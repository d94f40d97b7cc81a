//! The SQL kit: what every Kestra JDBC family shares, so that a new database is its connection
//! and its type mapping, nothing more.
//!
//! - [`QueryOptions`]: the properties of Kestra's `AbstractJdbcQuery` after `sql`
//!   (`fetchType` and its deprecated booleans, `fetchSize`, `parameters`, `timeZoneId`,
//!   `afterSQL`), flattened into each Query/Queries struct; [`FetchType`].
//! - [`Cell`]: one value of a row, written as Kestra writes it: JSON for FETCH outputs
//!   ([`Cell::to_json`]), Ion text for STORE files ([`Cell::write_ion`]).
//! - [`ResultSet`]: one result set becoming Kestra's output (`row`, `rows`, `uri`, `size`):
//!   rows are pushed one by one; STORE appends them to an Ion file in large blocks, offered to
//!   the next task while it grows, so memory stays flat whatever the size of the result.
//! - [`sql`]: statements split on `;` outside quotes, comments and dollar quotes, and `:name`
//!   binds rewritten to a driver's placeholders.
//!
//! ```ignore
//! let mut set = ResultSet::open(ctx, fetch, columns).await?;
//! while let Some(row) = cursor.next()? {
//!     let cells: Vec<Cell> = row.iter().map(to_cell).collect();
//!     if !set.push(&cells).await? {
//!         break; // FETCH_ONE has its row
//!     }
//! }
//! let outputs = set.finish().await?;
//! ```

mod cell;
mod props;
mod result;
pub mod sql;

pub use cell::{Cell, iso_datetime, iso_instant, iso_offset, iso_time};
pub use props::{FetchType, QueryOptions, RenderedOptions, fetch_metric};
pub use result::{ResultSet, RowFormat, STORE_BLOCK, StoreFile, no_result_output};
