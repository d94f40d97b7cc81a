//! Avro and Excel files written by runner and read by independent libraries (fastavro,
//! openpyxl, from PyPI in an environment scripts/formats-venv.sh makes once), and files those
//! libraries wrote read by runner.

use runner_core::State;
use runner_testkit::{Run, run_flow_with};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};

/// The folder of the formats environment (see runner_testkit::formats_venv).
fn venv() -> &'static Path {
    runner_testkit::formats_venv()
}

/// Runs a Python program of the environment with `args`; returns its standard output.
fn python(program: &str, args: &[&Path]) -> String {
    let out = std::process::Command::new(venv().join("bin/python"))
        .arg("-c")
        .arg(program)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "runner-formats-{}-{name}",
        runner_core::ids::random_u64()
    ))
}

async fn convert(tasks: &str, file: &Path) -> Run {
    let yaml = format!(
        "id: formats\nnamespace: test\ninputs:\n  - id: file\n    type: FILE\ntasks:\n{tasks}"
    );
    run_flow_with(
        &[runner_serdes::TASKS],
        &yaml,
        &[("file", file.to_str().expect("UTF-8 path"))],
        &[],
    )
    .await
}

fn output(run: &Run, task: &str) -> PathBuf {
    run.file(run.outputs(task)["uri"].as_str().expect("uri output"))
}

/// fastavro's reading of a file: its schema and records, as JSON (logical values as text).
const READ_AVRO: &str = r#"
import sys, json, fastavro
with open(sys.argv[1], 'rb') as f:
    r = fastavro.reader(f)
    rows = [row for row in r]
    print(json.dumps({"schema": r.writer_schema, "rows": rows}, default=str))
"#;

#[tokio::test]
async fn inferred_avro_is_read_by_fastavro_and_back() {
    let input = temp("rows.ion");
    std::fs::write(
        &input,
        "{id:1,name:\"Ada\",score:9.5e0,joined:2021-05-05,tags:[\"a\",\"b\"],address:{city:\"London\"}}\n\
         {id:5000000000,name:null,score:7.25e0,joined:2022-01-31,tags:[],address:{city:\"Paris\",zip:\"75001\"}}\n",
    )
    .unwrap();
    let run = convert(
        r#"  - id: avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{ inputs.file }}"
  - id: back
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{ outputs.avro.uri }}"
  - id: schema
    type: io.kestra.plugin.serdes.avro.InferAvroSchemaFromIon
    from: "{{ inputs.file }}"
"#,
        &input,
    )
    .await;
    let _ = std::fs::remove_file(&input);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("avro")["size"], 2);
    let read: Json = serde_json::from_str(&python(READ_AVRO, &[&output(&run, "avro")])).unwrap();
    assert_eq!(read["schema"]["name"], "io.kestra.plugin.serdes.avro.root");
    assert_eq!(
        read["rows"],
        json!([
            {"id": 1, "name": "Ada", "score": 9.5, "joined": "2021-05-05", "tags": ["a", "b"],
             "address": {"city": "London", "zip": null}},
            {"id": 5000000000_i64, "name": null, "score": 7.25, "joined": "2022-01-31", "tags": [],
             "address": {"city": "Paris", "zip": "75001"}},
        ])
    );
    let back = std::fs::read_to_string(output(&run, "back")).unwrap();
    assert_eq!(
        back,
        "{id:1,name:\"Ada\",score:9.5e0,joined:2021-05-05,tags:[\"a\",\"b\"],address:{city:\"London\",zip:null}}\n\
         {id:5000000000,name:null,score:7.25e0,joined:2022-01-31,tags:[],address:{city:\"Paris\",zip:\"75001\"}}\n"
    );
    let schema: Json =
        serde_json::from_str(&std::fs::read_to_string(output(&run, "schema")).unwrap()).unwrap();
    assert_eq!(
        schema["fields"][0],
        json!({"name": "id", "type": ["null", "long"], "default": null})
    );
}

#[tokio::test]
async fn a_schema_converts_text_into_logical_types() {
    let input = temp("rows.ion");
    std::fs::write(
        &input,
        "{id:\"1\",amount:12.5,day:\"2021-05-05\",at:\"2021-05-05T10:21:12.123Z\",color:\"RED\",note:\"NA\",ok:\"yes\",tags:[\"a\"],ratio:\"0,5\"}\n\
         {id:2,amount:\"-0.015\",day:2021-05-06,at:1620210072123,color:\"GREEN\",note:\"hi\",ok:false,tags:[],ratio:1.5}\n",
    )
    .unwrap();
    let run = convert(
        r#"  - id: avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{ inputs.file }}"
    decimalSeparator: ","
    schema: |
      {"type": "record", "name": "payment", "fields": [
        {"name": "id", "type": "int"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
        {"name": "note", "type": ["null", "string"]},
        {"name": "ok", "type": "boolean"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "ratio", "type": "double"},
        {"name": "missing", "type": "string", "default": "none"}]}
  - id: back
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{ outputs.avro.uri }}"
"#,
        &input,
    )
    .await;
    let _ = std::fs::remove_file(&input);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    let read: Json = serde_json::from_str(&python(READ_AVRO, &[&output(&run, "avro")])).unwrap();
    assert_eq!(
        read["rows"],
        json!([
            {"id": 1, "amount": "12.50", "day": "2021-05-05", "at": "2021-05-05 10:21:12.123000+00:00",
             "color": "RED", "note": null, "ok": true, "tags": ["a"], "ratio": 0.5, "missing": "none"},
            {"id": 2, "amount": "-0.02", "day": "2021-05-06", "at": "2021-05-05 10:21:12.123000+00:00",
             "color": "GREEN", "note": "hi", "ok": false, "tags": [], "ratio": 1.5, "missing": "none"},
        ])
    );
    let back = std::fs::read_to_string(output(&run, "back")).unwrap();
    assert_eq!(
        back.lines().next().unwrap(),
        "{id:1,amount:12.50,day:2021-05-05,at:2021-05-05T10:21:12.123Z,color:\"RED\",note:null,ok:true,tags:[\"a\"],ratio:5e-1,missing:\"none\"}"
    );
}

#[tokio::test]
async fn avro_written_by_fastavro_is_read_with_its_schema() {
    let file = temp("in.avro");
    python(
        r#"
import sys, fastavro, datetime, decimal, uuid
schema = {"type": "record", "name": "event", "fields": [
    {"name": "id", "type": "long"},
    {"name": "payload", "type": "bytes"},
    {"name": "hash", "type": {"type": "fixed", "name": "h4", "size": 4}},
    {"name": "attrs", "type": {"type": "map", "values": "int"}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
    {"name": "time", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "price", "type": {"type": "fixed", "name": "d8", "size": 8, "logicalType": "decimal", "precision": 12, "scale": 3}},
    {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "child", "type": ["null", {"type": "record", "name": "child", "fields": [{"name": "n", "type": "float"}]}]}]}
rows = [{"id": 7, "payload": b"\x00\xff", "hash": b"abcd", "attrs": {"b": 2, "a": 1},
         "at": datetime.datetime(2021, 5, 5, 10, 21, 12, 123456, tzinfo=datetime.timezone.utc),
         "local": datetime.datetime(2021, 5, 5, 12, 0, 0, 500000),
         "time": datetime.time(12, 21, 12, 123000), "price": decimal.Decimal("-1234.500"),
         "ref": uuid.UUID("550e8400-e29b-41d4-a716-446655440000"), "child": {"n": 1.5}}]
with open(sys.argv[1], 'wb') as f:
    fastavro.writer(f, schema, rows, codec="deflate")
"#,
        &[&file],
    );
    let run = convert(
        r#"  - id: ion
    type: io.kestra.plugin.serdes.avro.AvroReader
    from: "{{ inputs.file }}"
"#,
        &file,
    )
    .await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("ion")["size"], 1);
    assert_eq!(
        std::fs::read_to_string(output(&run, "ion")).unwrap(),
        "{id:7,payload:{{AP8=}},hash:{{YWJjZA==}},attrs:{a:1,b:2},at:2021-05-05T10:21:12.123456Z,\
         local:LocalDateTime::\"2021-05-05T12:00:00.5\",time:LocalTime::\"12:21:12.123\",\
         price:-1234.500,ref:\"550e8400-e29b-41d4-a716-446655440000\",child:{n:1.5e0}}\n"
    );
}

#[tokio::test]
async fn bad_rows_and_files_fail_with_where_and_why() {
    let input = temp("rows.ion");
    std::fs::write(&input, "{id:1}\n{id:\"abc\"}\n{id:3}\n").unwrap();
    let tasks = |on_bad: &str| {
        format!(
            r#"  - id: avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{{{ inputs.file }}}}"
    onBadLines: {on_bad}
    schema: '{{"type": "record", "name": "r", "fields": [{{"name": "id", "type": "int"}}]}}'
"#
        )
    };
    let run = convert(&tasks("ERROR"), &input).await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains(
            "line 2: on field 'id': cannot read `abc` as \"int\", with data [{\"id\":\"abc\"}]"
        ),
        "{}",
        run.logs
    );
    // Nothing half-written: the task's output file is gone.
    let outputs = walk(&run.storage);
    assert!(
        !outputs
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "avro")),
        "{outputs:?}"
    );

    let run = convert(&tasks("WARN"), &input).await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("avro")["size"], 2);
    assert!(
        run.logs
            .contains("Bad record skipped (onBadLines=WARN): line 2"),
        "{}",
        run.logs
    );
    let _ = std::fs::remove_file(&input);

    // Not an Avro file.
    let junk = temp("junk.avro");
    std::fs::write(&junk, b"this is not avro").unwrap();
    let run = convert(
        "  - id: ion\n    type: io.kestra.plugin.serdes.avro.AvroToIon\n    from: \"{{ inputs.file }}\"\n",
        &junk,
    )
    .await;
    let _ = std::fs::remove_file(&junk);
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("is not an Avro container file"),
        "{}",
        run.logs
    );
}

#[test]
fn an_invalid_schema_fails_validation() {
    let registry = runner_core::Registry::new(&[runner_serdes::TASKS]);
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: avro\n    type: io.kestra.plugin.serdes.avro.IonToAvro\n    from: kestra:///x.ion\n    schema: '{\"type\": \"record\", \"name\": \"r\"}'\n";
    let doc = runner_model::load_str(yaml).unwrap().remove(0);
    let v = runner_core::validate(&doc, &registry, &runner_template::Renderer::new());
    let errors: Vec<String> = v
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.problem.to_string())
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("invalid avro schema")),
        "{errors:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// openpyxl's reading of a workbook: each sheet's rows of values, and the number format of
/// the first data row's cells.
const READ_XLSX: &str = r#"
import sys, json, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = {}
for ws in wb.worksheets:
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    formats = [c.number_format for c in next(ws.iter_rows(min_row=2, max_row=2), [])]
    out[ws.title] = {"rows": rows, "formats": formats}
print(json.dumps(out, default=str))
"#;

#[tokio::test]
async fn excel_written_by_runner_is_read_by_openpyxl() {
    let users = temp("users.ion");
    std::fs::write(
        &users,
        "{id:1,name:\"Ada\",score:9.5e0,amount:12.50,active:true,joined:2021-05-05,seen:LocalDateTime::\"2021-05-05T12:30:00\",total:\"Formula:C2*2\",note:null}\n\
         {id:2,name:\"Grace\",score:7e0,amount:3.,active:false,joined:2022-01-31,seen:LocalDateTime::\"2022-01-31T08:00:00\",total:\"Formula:C3*2\",note:{a:1}}\n",
    )
    .unwrap();
    let yaml = r#"  - id: one
    type: io.kestra.plugin.serdes.excel.IonToExcel
    from: "{{ inputs.file }}"
    sheetsTitle: Users
  - id: two
    type: io.kestra.plugin.serdes.excel.IonToExcel
    header: false
    from:
      First: "{{ inputs.file }}"
      Second: "{{ inputs.file }}"
  - id: back
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ outputs.one.uri }}"
"#;
    let run = convert(yaml, &users).await;
    let _ = std::fs::remove_file(&users);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("one")["size"], 2);
    assert_eq!(run.outputs("two")["size"], 4);
    let read: Json = serde_json::from_str(&python(READ_XLSX, &[&output(&run, "one")])).unwrap();
    assert_eq!(
        read["Users"]["rows"],
        json!([
            [
                "id", "name", "score", "amount", "active", "joined", "seen", "total", "note"
            ],
            [
                1,
                "Ada",
                9.5,
                12.5,
                true,
                "2021-05-05 00:00:00",
                "2021-05-05 12:30:00",
                "=C2*2",
                null
            ],
            [
                2,
                "Grace",
                7,
                3,
                false,
                "2022-01-31 00:00:00",
                "2022-01-31 08:00:00",
                "=C3*2",
                "{a=1}"
            ],
        ])
    );
    assert_eq!(read["Users"]["formats"][5], "yyyy-MM-dd");
    let two: Json = serde_json::from_str(&python(READ_XLSX, &[&output(&run, "two")])).unwrap();
    assert_eq!(two["First"]["rows"][0][1], "Ada");
    assert_eq!(two["Second"]["rows"].as_array().unwrap().len(), 2);
    // Read back by runner: numbers as floats, dates as their day, as Kestra reads them.
    let sheet = run.outputs("back")["uris"]["Users"]
        .as_str()
        .unwrap()
        .to_string();
    let back = std::fs::read_to_string(run.file(&sheet)).unwrap();
    assert_eq!(
        back.lines().next().unwrap(),
        "{id:1e0,name:\"Ada\",score:9.5e0,amount:1.25e1,active:true,joined:\"2021-05-05\",seen:\"2021-05-05\",total:0e0,note:null}"
    );
}

#[tokio::test]
async fn excel_written_by_openpyxl_is_read_by_sheet() {
    let book = temp("book.xlsx");
    python(
        r#"
import sys, datetime, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Report"
ws.append(["generated by a tool"])
ws.append(["id", "name", None, "when", "id"])
ws.append([1, "Ada", "x", datetime.datetime(2021, 5, 5, 10, 0), "dup"])
ws.append([2, "Gr\"ace", None, datetime.date(2022, 1, 31), "dup2"])
other = wb.create_sheet("Other")
other.append(["a", "b"])
other.append([True, 2.5])
wb.save(sys.argv[1])
"#,
        &[&book],
    );
    let yaml = r#"  - id: report
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ inputs.file }}"
    sheetsTitle: [Report]
    skipRows: 1
  - id: all
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ inputs.file }}"
    header: false
    valueRender: FORMATTED_VALUE
    dateTimeRender: FORMATTED_STRING
  - id: dates
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ inputs.file }}"
    sheetsTitle: [Report]
    skipRows: 1
    valueRender: FORMATTED_VALUE
    dateTimeRender: FORMATTED_STRING
  - id: missing
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ inputs.file }}"
    sheetsTitle: [Nope]
"#;
    let run = convert(yaml, &book).await;
    let _ = std::fs::remove_file(&book);
    assert_eq!(run.state, State::Failed, "{}", run.logs);
    assert!(
        run.logs
            .contains("the workbook has no sheet `Nope`; its sheets: Report, Other"),
        "{}",
        run.logs
    );
    let report = run.outputs("report");
    assert_eq!(report["size"], 2);
    let text =
        std::fs::read_to_string(run.file(report["uris"]["Report"].as_str().unwrap())).unwrap();
    assert_eq!(
        text,
        "{id:\"dup\",name:\"Ada\",Column2:\"x\",when:\"2021-05-05\"}\n\
         {id:\"dup2\",name:\"Gr\\\"ace\",Column2:null,when:\"2022-01-31\"}\n"
    );
    let all = run.outputs("all");
    assert_eq!(all["size"], 6);
    let other = std::fs::read_to_string(run.file(all["uris"]["Other"].as_str().unwrap())).unwrap();
    assert_eq!(other, "[\"a\",\"b\"]\n[\"TRUE\",\"2.5\"]\n");
    // Without a header, rows are as wide as the first (Kestra's rule).
    let report_all =
        std::fs::read_to_string(run.file(all["uris"]["Report"].as_str().unwrap())).unwrap();
    assert_eq!(report_all.lines().nth(2).unwrap(), "[\"1\"]");
    let dates = run.outputs("dates");
    let text =
        std::fs::read_to_string(run.file(dates["uris"]["Report"].as_str().unwrap())).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "{id:\"dup\",name:\"Ada\",Column2:\"x\",when:\"2021-05-05T10:00:00\"}"
    );
}

#[tokio::test]
async fn a_corrupt_workbook_fails_clearly() {
    let junk = temp("junk.xlsx");
    std::fs::write(&junk, b"PK\x03\x04 not really a zip").unwrap();
    let run = convert(
        "  - id: x\n    type: io.kestra.plugin.serdes.excel.ExcelToIon\n    from: \"{{ inputs.file }}\"\n",
        &junk,
    )
    .await;
    let _ = std::fs::remove_file(&junk);
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("is not a readable .xlsx workbook"),
        "{}",
        run.logs
    );
    let list = temp("list.ion");
    std::fs::write(&list, "[1,2]\n").unwrap();
    let run = convert(
        "  - id: x\n    type: io.kestra.plugin.serdes.excel.IonToExcel\n    from: \"{{ inputs.file }}\"\n",
        &list,
    )
    .await;
    let _ = std::fs::remove_file(&list);
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs
            .contains("line 1: Invalid data of type List with header"),
        "{}",
        run.logs
    );
    assert!(
        !walk(&run.storage)
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "xlsx"))
    );
}

#[tokio::test]
async fn xml_is_written_for_parsers_and_read_back() {
    let input = temp("rows.ion");
    std::fs::write(
        &input,
        "{id:1,name:\"Ada & <co>\",score:9.5e0,tags:[\"a\",\"b\"],address:{city:\"London\"},note:null,at:2021-05-05T10:21:12.123Z}\n\
         {id:2,name:\"Grace\",score:7e0,tags:[],address:{city:\"Paris\"},note:\"x\",at:2022-01-31}\n",
    )
    .unwrap();
    let run = convert(
        r#"  - id: xml
    type: io.kestra.plugin.serdes.xml.IonToXml
    from: "{{ inputs.file }}"
    rootName: people
  - id: back
    type: io.kestra.plugin.serdes.xml.XmlToIon
    from: "{{ outputs.xml.uri }}"
  - id: query
    type: io.kestra.plugin.serdes.xml.XmlReader
    from: "{{ outputs.xml.uri }}"
    query: /people/item/address
"#,
        &input,
    )
    .await;
    let _ = std::fs::remove_file(&input);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    let xml = std::fs::read_to_string(output(&run, "xml")).unwrap();
    assert!(xml.starts_with(
        "<?xml version='1.0' encoding='UTF-8'?>\n<people>\n  <item>\n    <id>1</id>\n    <name>Ada &amp; &lt;co&gt;</name>\n    <score>9.5</score>\n    <tags>\n      <tags>a</tags>\n      <tags>b</tags>\n    </tags>\n    <address>\n      <city>London</city>\n    </address>\n    <note/>\n    <at>2021-05-05T10:21:12.123Z</at>\n  </item>\n"
    ), "{xml}");
    // Python's own parser reads it.
    let parsed = python(
        "import sys, xml.etree.ElementTree as ET\nroot = ET.parse(sys.argv[1]).getroot()\nprint(root.tag, len(root), root[0].find('name').text)",
        &[&output(&run, "xml")],
    );
    assert_eq!(parsed.trim(), "people 2 Ada & <co>");
    // Read back as org.json types it: numbers, lists from repeated elements, empty as "".
    let back = std::fs::read_to_string(output(&run, "back")).unwrap();
    assert_eq!(
        back.lines().next().unwrap(),
        "{id:1,name:\"Ada & <co>\",score:9.5e0,tags:{tags:[\"a\",\"b\"]},address:{city:\"London\"},note:\"\",at:\"2021-05-05T10:21:12.123Z\"}"
    );
    assert_eq!(run.outputs("back")["size"], 2);
    assert_eq!(
        std::fs::read_to_string(output(&run, "query")).unwrap(),
        "{city:\"London\"}\n{city:\"Paris\"}\n"
    );
}

#[tokio::test]
async fn xml_attributes_text_and_bad_documents() {
    let doc = temp("doc.xml");
    std::fs::write(
        &doc,
        r#"<?xml version="1.0"?>
<catalog xmlns:x="urn:x">
  <book id="b1" lang="en"><title>Dune &#233;dition</title><price currency="EUR">9.90</price><x:isbn>007</x:isbn></book>
  <book id="b2"><title><![CDATA[<Emma>]]></title><available>true</available></book>
  <magazine id="m1"/>
</catalog>"#,
    )
    .unwrap();
    let run = convert(
        r#"  - id: books
    type: io.kestra.plugin.serdes.xml.XmlToIon
    from: "{{ inputs.file }}"
    query: /catalog/book
    parserConfiguration:
      forceList: [title]
  - id: missing
    type: io.kestra.plugin.serdes.xml.XmlToIon
    from: "{{ inputs.file }}"
    query: /catalog/dvd
"#,
        &doc,
    )
    .await;
    let _ = std::fs::remove_file(&doc);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(
        std::fs::read_to_string(output(&run, "books")).unwrap(),
        "{id:\"b1\",lang:\"en\",title:[\"Dune édition\"],price:{currency:\"EUR\",content:9.9e0},'x:isbn':\"007\"}\n\
         {id:\"b2\",title:[\"<Emma>\"],available:true}\n"
    );
    assert_eq!(run.outputs("missing")["size"], 0);

    let bad = temp("bad.xml");
    std::fs::write(&bad, "<a><b></a>").unwrap();
    let run = convert(
        "  - id: x\n    type: io.kestra.plugin.serdes.xml.XmlToIon\n    from: \"{{ inputs.file }}\"\n",
        &bad,
    )
    .await;
    let _ = std::fs::remove_file(&bad);
    assert_eq!(run.state, State::Failed);
    assert!(run.logs.contains("is not well-formed XML"), "{}", run.logs);
}

/// pyarrow's reading of a Parquet file: its columns' types, codec and rows (values as text).
const READ_PARQUET: &str = r#"
import sys, json, pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
t = f.read()
print(json.dumps({
    "types": {field.name: str(field.type) for field in t.schema},
    "codec": f.metadata.row_group(0).column(0).compression,
    "groups": f.metadata.num_row_groups,
    "rows": t.to_pylist(),
}, default=str))
"#;

#[tokio::test]
async fn parquet_written_by_runner_is_read_by_pyarrow_and_back() {
    let input = temp("rows.ion");
    let mut rows = String::new();
    for i in 0..3000 {
        rows.push_str(&format!(
            "{{id:{i},name:{},score:{}e0,joined:2021-05-{:02},at:2021-05-05T10:21:12.123Z,amount:\"{}.25\"}}\n",
            if i % 2 == 0 { format!("\"user {i}\"") } else { "null".into() },
            i as f64 / 2.0,
            i % 28 + 1,
            i
        ));
    }
    std::fs::write(&input, rows).unwrap();
    let run = convert(
        r#"  - id: inferred
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ inputs.file }}"
    rowGroupSize: 65536
  - id: typed
    type: io.kestra.plugin.serdes.parquet.ParquetWriter
    from: "{{ inputs.file }}"
    compressionCodec: SNAPPY
    schema: |
      {"type": "record", "name": "payment", "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}}]}
  - id: back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ outputs.typed.uri }}"
"#,
        &input,
    )
    .await;
    let _ = std::fs::remove_file(&input);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("inferred")["size"], 3000);
    let read: Json =
        serde_json::from_str(&python(READ_PARQUET, &[&output(&run, "inferred")])).unwrap();
    assert_eq!(read["codec"], "GZIP");
    assert!(read["groups"].as_u64().unwrap() > 1, "{}", read["groups"]);
    assert_eq!(
        read["types"],
        json!({"id": "int32", "name": "string", "score": "double", "joined": "date32[day]",
               "at": "timestamp[ms]", "amount": "string"})
    );
    assert_eq!(
        read["rows"][1],
        json!({"id": 1, "name": null, "score": 0.5, "joined": "2021-05-02",
               "at": "2021-05-05 10:21:12.123000", "amount": "1.25"})
    );
    assert_eq!(read["rows"].as_array().unwrap().len(), 3000);
    let typed: Json =
        serde_json::from_str(&python(READ_PARQUET, &[&output(&run, "typed")])).unwrap();
    assert_eq!(typed["codec"], "SNAPPY");
    assert_eq!(typed["types"]["amount"], "decimal128(10, 2)");
    assert_eq!(typed["types"]["at"], "timestamp[ms, tz=UTC]");
    assert_eq!(
        typed["rows"][2],
        json!({"id": 2, "name": "user 2", "at": "2021-05-05 10:21:12.123000+00:00", "amount": "2.25"})
    );
    let back = std::fs::read_to_string(output(&run, "back")).unwrap();
    assert_eq!(
        back.lines().next().unwrap(),
        "{id:0,name:\"user 0\",at:2021-05-05T10:21:12.123Z,amount:0.25}"
    );
    assert_eq!(back.lines().count(), 3000);
}

#[tokio::test]
async fn parquet_written_by_pyarrow_is_read_with_nested_values() {
    let file = temp("in.parquet");
    python(
        r#"
import sys, datetime, decimal, pyarrow as pa, pyarrow.parquet as pq
t = pa.table({
    "id": pa.array([1, 2], pa.int64()),
    "tags": pa.array([["a", "b"], []], pa.list_(pa.string())),
    "address": pa.array([{"city": "London", "zip": None}, {"city": "Paris", "zip": "75001"}],
                        pa.struct([("city", pa.string()), ("zip", pa.string())])),
    "at": pa.array([datetime.datetime(2021, 5, 5, 10, 21, 12, 123456), None], pa.timestamp("us", tz="UTC")),
    "day": pa.array([datetime.date(2021, 5, 5), datetime.date(1969, 12, 31)], pa.date32()),
    "price": pa.array([decimal.Decimal("-1234.500"), decimal.Decimal("0.001")], pa.decimal128(12, 3)),
    "raw": pa.array([b"\x00\xff", b""], pa.binary()),
    "ok": pa.array([True, False]),
})
pq.write_table(t, sys.argv[1], compression="snappy")
"#,
        &[&file],
    );
    let run = convert(
        "  - id: ion\n    type: io.kestra.plugin.serdes.parquet.ParquetReader\n    from: \"{{ inputs.file }}\"\n",
        &file,
    )
    .await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(
        std::fs::read_to_string(output(&run, "ion")).unwrap(),
        "{id:1,tags:[\"a\",\"b\"],address:{city:\"London\",zip:null},at:2021-05-05T10:21:12.123456Z,day:2021-05-05,price:-1234.500,raw:{{AP8=}},ok:true}\n\
         {id:2,tags:[],address:{city:\"Paris\",zip:\"75001\"},at:null,day:1969-12-31,price:0.001,raw:{{}},ok:false}\n"
    );
}

#[tokio::test]
async fn parquet_zstd_both_ways_with_pyarrow() {
    // Polars and newer DuckDB write ZSTD by default.
    let file = temp("zstd.parquet");
    python(
        r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({"id": list(range(1000)), "name": [f"n{i}" for i in range(1000)]}),
               sys.argv[1], compression="zstd")
"#,
        &[&file],
    );
    let run = convert(
        r#"  - id: ion
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ inputs.file }}"
  - id: again
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.ion.uri }}"
    compressionCodec: ZSTD
"#,
        &file,
    )
    .await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(run.state, State::Success, "{}", run.logs);
    let ion = std::fs::read_to_string(output(&run, "ion")).unwrap();
    assert_eq!(ion.lines().nth(999), Some("{id:999,name:\"n999\"}"));
    let read: Json =
        serde_json::from_str(&python(READ_PARQUET, &[&output(&run, "again")])).unwrap();
    assert_eq!(read["codec"], "ZSTD");
    assert_eq!(read["rows"][999], json!({"id": 999, "name": "n999"}));
}

#[tokio::test]
async fn parquet_refuses_what_it_cannot_write_and_read() {
    let input = temp("rows.ion");
    std::fs::write(&input, "{id:1,tags:[\"a\"]}\n").unwrap();
    let run = convert(
        "  - id: p\n    type: io.kestra.plugin.serdes.parquet.IonToParquet\n    from: \"{{ inputs.file }}\"\n",
        &input,
    )
    .await;
    let _ = std::fs::remove_file(&input);
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs
            .contains("the field `tags` is a nested record, array or map"),
        "{}",
        run.logs
    );
    assert!(
        !walk(&run.storage)
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "parquet"))
    );
    let junk = temp("junk.parquet");
    std::fs::write(&junk, b"PAR1 not really").unwrap();
    let run = convert(
        "  - id: p\n    type: io.kestra.plugin.serdes.parquet.ParquetToIon\n    from: \"{{ inputs.file }}\"\n",
        &junk,
    )
    .await;
    let _ = std::fs::remove_file(&junk);
    assert_eq!(run.state, State::Failed);
    assert!(run.logs.contains("is not a Parquet file"), "{}", run.logs);
}
