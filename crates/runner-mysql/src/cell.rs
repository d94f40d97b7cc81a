//! One MySQL or MariaDB value as the kit's [`Cell`], by column type, as Kestra's
//! `MysqlCellConverter` and `MariaDbCellConverter` convert them. Rows arrive as text (a plain
//! query) or typed (a query with parameters): both read the same.

use crate::connection::Dialect;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Value};
use runner_jdbc::Cell;

/// The binary character set: BINARY, VARBINARY and BLOB columns, whose values are bytes.
const BINARY_CHARSET: u16 = 63;

pub(crate) struct Converter {
    pub(crate) dialect: Dialect,
    pub(crate) zone: TimeZone,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        _ => None,
    }
}

/// A DATE, DATETIME or TIMESTAMP: the typed value, or its text.
fn datetime(v: &Value) -> Option<DateTime> {
    match v {
        Value::Date(y, mo, d, h, mi, s, us) => Date::new(*y as i16, *mo as i8, *d as i8)
            .ok()?
            .to_datetime(Time::new(*h as i8, *mi as i8, *s as i8, *us as i32 * 1000).ok()?)
            .into(),
        Value::Bytes(b) => {
            let t = std::str::from_utf8(b).ok()?.trim();
            // `2024-01-02 10:00:00.5`, or a date alone.
            t.replacen(' ', "T", 1)
                .parse::<DateTime>()
                .ok()
                .or_else(|| {
                    t.parse::<Date>()
                        .ok()
                        .map(|d| d.to_datetime(Time::midnight()))
                })
        }
        _ => None,
    }
}

fn time(v: &Value) -> Option<Time> {
    match v {
        Value::Time(false, 0, h, mi, s, us) => {
            Time::new(*h as i8, *mi as i8, *s as i8, *us as i32 * 1000).ok()
        }
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

impl Converter {
    /// The cell of `v` in `column`; an error names the column when a value cannot be read.
    pub(crate) fn cell(&self, v: &Value, column: &Column) -> Result<Cell, String> {
        if matches!(v, Value::NULL) {
            return Ok(Cell::Null);
        }
        let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
        let bad = || {
            format!(
                "cannot read the value of column `{}` ({:?})",
                column.name_str(),
                column.column_type()
            )
        };
        let int = || -> Result<i64, String> {
            match v {
                Value::Int(i) => Ok(*i),
                Value::UInt(u) => i64::try_from(*u).map_err(|_| bad()),
                other => text(other).and_then(|t| t.parse().ok()).ok_or_else(bad),
            }
        };
        use ColumnType::*;
        Ok(match column.column_type() {
            // TINYINT(1) is a boolean to both drivers (`tinyInt1isBit`).
            MYSQL_TYPE_TINY if column.column_length() == 1 => Cell::Bool(int()? != 0),
            // Kestra's base converter gives a BigInteger as its text.
            MYSQL_TYPE_LONGLONG if unsigned => Cell::Text(text(v).ok_or_else(bad)?),
            MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG => Cell::Int(int()?),
            MYSQL_TYPE_FLOAT => match v {
                Value::Float(f) => Cell::Float4(*f),
                Value::Double(f) => Cell::Float4(*f as f32),
                other => Cell::Float4(text(other).and_then(|t| t.parse().ok()).ok_or_else(bad)?),
            },
            MYSQL_TYPE_DOUBLE => match v {
                Value::Double(f) => Cell::Float8(*f),
                Value::Float(f) => Cell::Float8(f64::from(*f)),
                other => Cell::Float8(text(other).and_then(|t| t.parse().ok()).ok_or_else(bad)?),
            },
            MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => Cell::Decimal(text(v).ok_or_else(bad)?),
            MYSQL_TYPE_YEAR => {
                let y = int()?;
                Cell::Date(Date::new(y as i16, 1, 1).map_err(|_| bad())?)
            }
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => {
                let dt = datetime(v).ok_or_else(|| zero_date(column))?;
                Cell::Date(dt.date())
            }
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => match time(v) {
                Some(t) => Cell::Time(t),
                // Outside a day (`-01:00:00`, `838:59:59`): Java's LocalTime cannot hold it.
                None => Cell::Text(text(v).unwrap_or_default()),
            },
            MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2 => {
                let dt = datetime(v).ok_or_else(|| zero_date(column))?;
                let timestamp = matches!(
                    column.column_type(),
                    MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2
                );
                match self.dialect {
                    Dialect::MySql if timestamp => {
                        // The session is in UTC (connection setup), so this wall time is UTC.
                        Cell::Instant(
                            dt.to_zoned_datetime(TimeZone::UTC)
                                .map_err(|_| bad())?
                                .timestamp(),
                        )
                    }
                    Dialect::MySql => Cell::Timestamp(dt),
                    // MariaDB's driver builds a Timestamp in the machine's zone, which Kestra
                    // shows in `timeZoneId`.
                    Dialect::MariaDb => {
                        let at = dt
                            .to_zoned_datetime(TimeZone::system())
                            .map_err(|_| bad())?;
                        Cell::TimestampTz(at.timestamp().to_zoned_datetime(self.zone.clone()))
                    }
                }
            }
            MYSQL_TYPE_JSON => Cell::Text(text(v).ok_or_else(bad)?),
            MYSQL_TYPE_BIT | MYSQL_TYPE_GEOMETRY => match v {
                Value::Bytes(b) => Cell::Bytes(b.clone()),
                _ => return Err(bad()),
            },
            MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_VARCHAR
                if column.character_set() == BINARY_CHARSET =>
            {
                match v {
                    Value::Bytes(b) => Cell::Bytes(b.clone()),
                    _ => return Err(bad()),
                }
            }
            _ => Cell::Text(text(v).ok_or_else(bad)?),
        })
    }
}

fn zero_date(column: &Column) -> String {
    format!(
        "column `{}` holds a date MySQL allows and Java cannot read (a zero date, `0000-00-00`)",
        column.name_str()
    )
}

/// A rendered parameter as a driver value.
pub(crate) fn parameter(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::NULL,
        serde_json::Value::Bool(b) => Value::Int(i64::from(*b)),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (_, Some(u), _) => Value::UInt(u),
            (_, _, Some(f)) => Value::Double(f),
            _ => Value::Bytes(n.to_string().into_bytes()),
        },
        serde_json::Value::String(s) => Value::Bytes(s.clone().into_bytes()),
        other => Value::Bytes(other.to_string().into_bytes()),
    }
}
