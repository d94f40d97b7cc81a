//! The serdes tasks in real flows: files in through a FILE input, files out read back.

use runner_core::State;
use runner_testkit::{Run, run_flow_with};

/// Values that break naive CSV and JSON handling: quotes, separators, line breaks inside
/// fields, non-ASCII text, empty fields.
const TRICKY_CSV: &str = "id,quote,separator,newline,unicode,empty\n\
1,\"say \"\"hi\"\"\",\"a,b\",\"line1\nline2\",héllo 😀 ÿ,\n\
2,plain,x;y,\"crlf\r\nend\",日本語,\n\
3,'single',,,\\\\,\n";

fn input(name: &str, content: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "runner-serdes-{}-{name}",
        runner_core::ids::random_u64()
    ));
    std::fs::write(&path, content).expect("write input");
    path
}

async fn convert(tasks: &str, file: &[u8], name: &str) -> Run {
    let yaml = format!(
        "id: serdes\nnamespace: test\ninputs:\n  - id: file\n    type: FILE\ntasks:\n{tasks}"
    );
    let path = input(name, file);
    let run = run_flow_with(
        &[runner_serdes::TASKS],
        &yaml,
        &[("file", path.to_str().expect("UTF-8 path"))],
        &[],
    )
    .await;
    let _ = std::fs::remove_file(path);
    run
}

fn read(run: &Run, task: &str) -> String {
    let uri = run.outputs(task)["uri"]
        .as_str()
        .expect("uri output")
        .to_string();
    std::fs::read_to_string(run.file(&uri)).expect("output file")
}

fn round_trip_tasks(new_line: bool) -> String {
    format!(
        r#"  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{{{ inputs.file }}}}"
  - id: to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{{{ outputs.to_ion.uri }}}}"
    newLine: {new_line}
  - id: back_to_ion
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{{{ outputs.to_json.uri }}}}"
    newLine: {new_line}
  - id: to_csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{{{ outputs.back_to_ion.uri }}}}"
"#
    )
}

#[tokio::test]
async fn csv_to_ion_to_json_to_ion_to_csv_preserves_every_value() {
    for new_line in [true, false] {
        let run = convert(&round_trip_tasks(new_line), TRICKY_CSV.as_bytes(), "in.csv").await;
        assert_eq!(
            run.state,
            State::Success,
            "newLine {new_line}: {}",
            run.logs
        );
        assert_eq!(read(&run, "to_csv"), TRICKY_CSV, "newLine {new_line}");
        for task in ["to_ion", "to_json", "back_to_ion", "to_csv"] {
            assert_eq!(run.outputs(task)["size"], 3, "{task}, newLine {new_line}");
        }
        assert_eq!(read(&run, "to_ion"), read(&run, "back_to_ion"));
        let json = read(&run, "to_json");
        if new_line {
            assert!(
                run.outputs("to_json")["uri"]
                    .as_str()
                    .unwrap()
                    .ends_with(".jsonl")
            );
            let first: serde_json::Value =
                serde_json::from_str(json.lines().next().unwrap()).unwrap();
            assert_eq!(first["quote"], "say \"hi\"");
            assert_eq!(first["newline"], "line1\nline2");
            assert_eq!(first["unicode"], "héllo 😀 ÿ");
            assert_eq!(first["empty"], "");
        } else {
            let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(doc.as_array().map(Vec::len), Some(3));
            assert_eq!(doc[1]["newline"], "crlf\r\nend");
        }
    }
}

#[tokio::test]
async fn csv_values_are_strings_and_backslash_n_is_null() {
    let tasks = "  - id: read\n    type: io.kestra.plugin.serdes.csv.CsvToIon\n    from: \"{{ inputs.file }}\"\n";
    let run = convert(tasks, "\u{feff}n,s\n12,\\N\n".as_bytes(), "in.csv").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(read(&run, "read"), "{n:\"12\",s:null}\n");
    assert!(
        run.outputs("read")["uri"]
            .as_str()
            .unwrap()
            .ends_with(".ion")
    );

    let tasks = "  - id: read\n    type: io.kestra.plugin.serdes.csv.CsvReader\n    from: \"{{ inputs.file }}\"\n    header: false\n    fieldSeparator: \";\"\n    skipRows: 1\n    skipEmptyRows: true\n";
    let run = convert(tasks, b"skipped\n\na;b\n\n\"\"\r\n\r\nc;\n", "in.csv").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    // Blank lines go; a line holding `""` is a record with one empty value.
    assert_eq!(read(&run, "read"), "[\"a\",\"b\"]\n[\"\"]\n[\"c\",\"\"]\n");
    assert_eq!(run.outputs("read")["size"], 3);
}

#[tokio::test]
async fn a_row_with_the_wrong_field_count_fails_warns_or_is_skipped() {
    let csv = b"a,b\n1,2\n3\n4,5\n";
    let task = |mode: &str| {
        format!(
            "  - id: read\n    type: io.kestra.plugin.serdes.csv.CsvToIon\n    from: \"{{{{ inputs.file }}}}\"\n    onBadLines: {mode}\n"
        )
    };
    let run = convert(&task("ERROR"), csv, "in.csv").await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains(
            "line 3: Bad line encountered (field count mismatch): Expected 2, got 1 fields."
        ),
        "{}",
        run.logs
    );
    for mode in ["WARN", "SKIP"] {
        let run = convert(&task(mode), csv, "in.csv").await;
        assert_eq!(run.state, State::Success, "{}", run.logs);
        assert_eq!(read(&run, "read"), "{a:\"1\",b:\"2\"}\n{a:\"4\",b:\"5\"}\n");
        assert_eq!(run.outputs("read")["size"], 2);
        assert_eq!(
            run.logs.contains("field count mismatch"),
            mode == "WARN",
            "{mode}"
        );
    }
}

#[tokio::test]
async fn malformed_csv_names_the_line() {
    let tasks = "  - id: read\n    type: io.kestra.plugin.serdes.csv.CsvToIon\n    from: \"{{ inputs.file }}\"\n";
    let run = convert(tasks, b"a,b\n1,\"open\n2,3\n", "in.csv").await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("line 2: a quoted field is not closed"),
        "{}",
        run.logs
    );
    let run = convert(tasks, b"a,b\n\"x\"y,1\n", "in.csv").await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs
            .contains("line 2: unexpected `y` after a closing \""),
        "{}",
        run.logs
    );
    let run = convert(tasks, b"a,b\n\xff\xfe,1\n", "in.csv").await;
    assert_eq!(run.state, State::Failed);
    assert!(run.logs.contains("not UTF-8"), "{}", run.logs);
}

#[tokio::test]
async fn json_to_ion_reads_lines_or_one_document() {
    let lines = "  - id: read\n    type: io.kestra.plugin.serdes.json.JsonToIon\n    from: \"{{ inputs.file }}\"\n";
    let run = convert(
        lines,
        b"{\"a\":1.5,\"b\":\"2021-05-05\",\"c\":null,\"d\":[1,true]}\n\n7\n",
        "in.jsonl",
    )
    .await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(
        read(&run, "read"),
        "{a:1.5e0,b:\"2021-05-05\",c:null,d:[1,true]}\n7\n"
    );
    assert_eq!(run.outputs("read")["size"], 2);

    let document = format!("{lines}    newLine: false\n");
    let run = convert(&document, b"[{\"x\":1},\n {\"x\":2}]", "in.json").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(read(&run, "read"), "{x:1}\n{x:2}\n");
    let run = convert(&document, b"{\"only\":\"one\"}", "in.json").await;
    assert_eq!(read(&run, "read"), "{only:\"one\"}\n");

    let run = convert(lines, b"{\"a\":1}\n{\"a\":\n", "in.jsonl").await;
    assert_eq!(run.state, State::Failed);
    assert!(run.logs.contains("line 2, column"), "{}", run.logs);
    let run = convert(&document, b"[1,\n2,\n}", "in.json").await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("line 3, column 1: not JSON"),
        "{}",
        run.logs
    );
}

#[tokio::test]
async fn ion_to_json_writes_one_value_or_an_array() {
    let task = "  - id: write\n    type: io.kestra.plugin.serdes.json.IonToJson\n    from: \"{{ inputs.file }}\"\n    newLine: false\n";
    let run = convert(task, b"{a:1.50}\n", "in.ion").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(read(&run, "write"), "{\"a\":1.50}");
    let run = convert(task, b"1\n2 3\n", "in.ion").await;
    assert_eq!(read(&run, "write"), "[1,2,3]");
    assert_eq!(run.outputs("write")["size"], 3);

    let run = convert(task, b"{a:1}\n{b:\n", "in.ion").await;
    assert_eq!(run.state, State::Failed);
    assert!(run.logs.contains("line 2: invalid Ion"), "{}", run.logs);
}

/// Kestra 2.0 writes binary Ion: the same rows, written in binary by an independent
/// implementation (ion-rs), convert to the same CSV and JSON as their text form.
#[tokio::test]
async fn binary_ion_converts_like_its_text_form() {
    let text = "{id:1,name:\"Ann, \\\"A\\\"\",score:2147483645.1234,f:3.25e0,at:2021-05-05T10:21:12.123Z,day:2030-12-25,b:{{3q2+7w==}},n:null,tags:[a,\"b\"]}\n{id:2,name:\"日本\",score:-0.5,f:-1e0,at:2024-02-29T23:30:00.000-01:00,day:null,b:null,n:null,tags:[]}\n";
    let binary = ion_rs::Element::read_all(text)
        .expect("ion-rs reads the text")
        .encode_as(ion_rs::v1_0::Binary)
        .expect("ion-rs writes binary");
    let tasks = "  - id: csv\n    type: io.kestra.plugin.serdes.csv.IonToCsv\n    from: \"{{ inputs.file }}\"\n    timeZoneId: UTC\n  - id: json\n    type: io.kestra.plugin.serdes.json.IonToJson\n    from: \"{{ inputs.file }}\"\n";
    let from_text = convert(tasks, text.as_bytes(), "text.ion").await;
    let from_binary = convert(tasks, &binary, "binary.ion").await;
    assert_eq!(from_text.state, State::Success, "{}", from_text.logs);
    assert_eq!(from_binary.state, State::Success, "{}", from_binary.logs);
    assert_eq!(read(&from_binary, "csv"), read(&from_text, "csv"));
    assert_eq!(read(&from_binary, "json"), read(&from_text, "json"));
    assert_eq!(from_binary.outputs("csv")["size"], 2);
    assert!(read(&from_binary, "csv").contains("1,\"Ann, \"\"A\"\"\",2147483645.1234,3.25,"));

    let truncated = &binary[..binary.len() - 3];
    let run = convert(tasks, truncated, "cut.ion").await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs
            .contains("value 2: the file ends inside a binary Ion value"),
        "{}",
        run.logs
    );
    let run = convert(tasks, b"\xff\xfe{a:1}", "utf16.ion").await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("line 1: neither text nor binary Ion"),
        "{}",
        run.logs
    );
}

#[tokio::test]
async fn from_must_be_a_file_of_this_execution() {
    let cases = [
        ("/etc/hostname", "is not an internal storage URI"),
        (
            "kestra:///other/flow/file.ion",
            "didn't belong to the current execution",
        ),
    ];
    for (from, message) in cases {
        let tasks = format!(
            "  - id: csv\n    type: io.kestra.plugin.serdes.csv.IonToCsv\n    from: \"{from}\"\n"
        );
        let run = convert(&tasks, b"{a:1}\n", "in.ion").await;
        assert_eq!(run.state, State::Failed, "{from}");
        assert!(
            run.logs.contains(from) && run.logs.contains(message),
            "{from}: {}",
            run.logs
        );
    }
}

#[tokio::test]
async fn bare_carriage_returns_end_records_and_lines_are_bounded() {
    let tasks = "  - id: read\n    type: io.kestra.plugin.serdes.csv.CsvToIon\n    from: \"{{ inputs.file }}\"\n";
    let run = convert(tasks, b"a,b\r1,\"x\ry\"\r2,3\r", "mac.csv").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(
        read(&run, "read"),
        "{a:\"1\",b:\"x\\ry\"}\n{a:\"2\",b:\"3\"}\n"
    );
    assert_eq!(run.outputs("read")["size"], 2);

    let bounded = format!("{tasks}    maxBufferSize: 16\n");
    let run = convert(&bounded, b"a,b\r1,2\r3,4\r5,6\r7,8\r", "mac.csv").await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs
            .contains("line 1: a line is longer than maxBufferSize (16 bytes)"),
        "{}",
        run.logs
    );
    let run = convert(&bounded, b"a,b\n1,2\n3,4\n5,6\n7,8\n", "unix.csv").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("read")["size"], 4);
}

#[tokio::test]
async fn yaml_documents_round_trip_through_ion_and_json() {
    let yaml = "name: Ada\nlangs: [en, fr]\nage: 36\n---\n- {name: Grace, active: true}\n- name: Alan\n  score: 1.5\n";
    let tasks = r#"  - id: to_ion
    type: io.kestra.plugin.serdes.yaml.YamlToIon
    from: "{{ inputs.file }}"
  - id: to_yaml
    type: io.kestra.plugin.serdes.yaml.IonToYaml
    from: "{{ outputs.to_ion.uri }}"
  - id: to_json
    type: io.kestra.plugin.serdes.yaml.YamlToJson
    from: "{{ inputs.file }}"
  - id: to_jsonl
    type: io.kestra.plugin.serdes.yaml.YamlToJson
    from: "{{ inputs.file }}"
    jsonl: true
  - id: one_yaml
    type: io.kestra.plugin.serdes.yaml.JsonToYaml
    from: "{{ outputs.to_jsonl.uri }}"
    jsonl: true
"#;
    let run = convert(tasks, yaml.as_bytes(), "in.yaml").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("to_ion")["size"], 3);
    assert_eq!(
        read(&run, "to_ion"),
        "{name:\"Ada\",langs:[\"en\",\"fr\"],age:36}\n{name:\"Grace\",active:true}\n{name:\"Alan\",score:1.5e0}\n"
    );
    assert_eq!(
        read(&run, "to_yaml"),
        "---\nname: Ada\nlangs:\n - en\n - fr\nage: 36\n---\nname: Grace\nactive: true\n---\nname: Alan\nscore: 1.5\n"
    );
    assert_eq!(
        read(&run, "to_json"),
        r#"[{"name":"Ada","langs":["en","fr"],"age":36},[{"name":"Grace","active":true},{"name":"Alan","score":1.5}]]"#
    );
    assert_eq!(run.outputs("to_jsonl")["size"], 2);
    assert_eq!(run.outputs("one_yaml")["size"], 2);
    assert!(read(&run, "one_yaml").starts_with("---\nname: Ada\n"));

    let bad = convert(tasks, b"a: [1, 2\nb: 3\n", "bad.yaml").await;
    assert_eq!(bad.state, State::Failed);
    assert!(bad.logs.contains("line "), "{}", bad.logs);
}

#[tokio::test]
async fn json_documents_become_json_lines() {
    let tasks = r#"  - id: jsonl
    type: io.kestra.plugin.serdes.json.JsonToJsonl
    from: "{{ inputs.file }}"
  - id: to_yaml
    type: io.kestra.plugin.serdes.yaml.JsonToYaml
    from: "{{ inputs.file }}"
"#;
    let run = convert(tasks, br#"[{"a":1,"b":null},2,"x",[3]]"#, "array.json").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("jsonl")["size"], 4);
    assert_eq!(read(&run, "jsonl"), "{\"a\":1,\"b\":null}\n2\n\"x\"\n[3]\n");
    assert_eq!(
        read(&run, "to_yaml"),
        "---\na: 1\n---\n2\n---\nx\n---\n - 3\n"
    );

    let run = convert(
        &tasks[..tasks.find("  - id: to_yaml").unwrap()],
        b"{\"a\":1}\n{\"a\":2} [5] {\"a\":3}",
        "objects.json",
    )
    .await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(read(&run, "jsonl"), "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");

    let run = convert(
        &tasks[..tasks.find("  - id: to_yaml").unwrap()],
        b"  42",
        "scalar.json",
    )
    .await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains(
            "Invalid JSON format. Expected JSON array or object, but found: VALUE_NUMBER"
        ),
        "{}",
        run.logs
    );
    let run = convert(
        &tasks[..tasks.find("  - id: to_yaml").unwrap()],
        b"[1, 2",
        "cut.json",
    )
    .await;
    assert_eq!(run.state, State::Failed);
    assert!(run.logs.contains("Invalid JSON format"), "{}", run.logs);
}

#[tokio::test]
async fn json_goes_to_toon_and_back() {
    let tasks = r#"  - id: toon
    type: io.kestra.plugin.serdes.toon.JsonToToon
    from: "{{ inputs.file }}"
  - id: json
    type: io.kestra.plugin.serdes.toon.ToonToJson
    from: "{{ outputs.toon.uri }}"
"#;
    let users =
        br#"[{"id":1,"name":"Ada","city":"London"},{"id":2,"name":"Grace","city":"New York, NY"}]"#;
    let run = convert(tasks, users, "users.json").await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(run.outputs("toon")["size"], 2);
    assert!(
        run.outputs("toon")["uri"]
            .as_str()
            .unwrap()
            .ends_with(".toon")
    );
    assert_eq!(
        read(&run, "toon"),
        "[2]{id,name,city}:\n  1,Ada,London\n  2,Grace,\"New York, NY\""
    );
    let back: serde_json::Value = serde_json::from_str(&read(&run, "json")).unwrap();
    assert_eq!(
        back,
        serde_json::from_slice::<serde_json::Value>(users).unwrap()
    );
    assert_eq!(run.outputs("json")["size"], 2);

    let run = convert(
        &tasks[..tasks.find("  - id: json").unwrap()],
        b"  ",
        "empty.json",
    )
    .await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs.contains("Invalid JSON: empty input"),
        "{}",
        run.logs
    );
}
