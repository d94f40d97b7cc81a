-- The column types of Kestra's PostgreSQL type test, written for runner's tests.
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE inventory_item AS (name text, supplier_id integer, price numeric);
CREATE TABLE pgsql_types (
  concert_id serial NOT NULL,
  available boolean NOT NULL,
  a CHAR(4) NOT NULL,
  b VARCHAR(30) NOT NULL,
  c TEXT NOT NULL,
  d VARCHAR(10),
  play_time smallint NOT NULL,
  library_record BIGINT NOT NULL,
  floatn_test float8 NOT NULL,
  double_test double precision NOT NULL,
  real_test real NOT NULL,
  numeric_test numeric NOT NULL,
  date_type DATE NOT NULL,
  time_type TIME NOT NULL,
  timez_type TIME WITH TIME ZONE NOT NULL,
  timestamp_type TIMESTAMP NOT NULL,
  timestampz_type TIMESTAMP WITH TIME ZONE NOT NULL,
  interval_type INTERVAL NOT NULL,
  pay_by_quarter integer[] NOT NULL,
  schedule text[][] NOT NULL,
  json_type JSON NOT NULL,
  jsonb_type JSONB NOT NULL,
  item inventory_item NOT NULL,
  blob_type bytea NOT NULL,
  tsvector_col TSVECTOR NOT NULL,
  hstore_type HSTORE NOT NULL
);
INSERT INTO pgsql_types (available, a, b, c, d, play_time, library_record, floatn_test, double_test, real_test,
  numeric_test, date_type, time_type, timez_type, timestamp_type, timestampz_type, interval_type, pay_by_quarter,
  schedule, json_type, jsonb_type, item, blob_type, tsvector_col, hstore_type)
SELECT true, 'four', 'This is a varchar', 'This is a text column data', NULL, 32767, 9223372036854775807,
  9223372036854776000, 9223372036854776000, 9223372036854776000, 2147483645.1234, '2030-12-25', '04:05:30',
  '04:05:06 PST', '2004-10-19 10:23:54.999999', '2004-10-19 10:23:54.250+04', '10 years 4 months 5 days 10 seconds',
  '{100,200,300}', '{{meeting,lunch},{training,presentation}}', '{"color":"red","value":"#f00"}',
  '{"color":"blue","value":"#0f0"}', ROW('fuzzy dice', 42, 1.99)::inventory_item, '\xDEADBEEF',
  to_tsvector('english', 'fuzzy dice quick brown fox jumps over lazy dog'), 'foo=>"bar", hello=>"world"'
FROM generate_series(1, 2);
