//! The compression tasks against Debian's own tools: archives and streams made by `tar`, `zip`,
//! `gzip`, `bzip2`, `xz`, `zstd` and `lz4` are read, and what runner writes is read back by them.
//! Zip-slip entries, bombs and corrupt files fail with nothing kept.

use runner_testkit::{Run, RunOptions, run_flow_opts};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_compress::TASKS,
];

/// A folder for one test, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("runner-compress-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn write(&self, rel: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd` in `dir`, failing the test with its output when it fails.
fn sh(dir: &Path, cmd: &str) -> Vec<u8> {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A flow with one FILE input, `file`, and `tasks`.
fn flow(tasks: &str) -> String {
    format!(
        "id: compress\nnamespace: company.team\ninputs:\n  - id: file\n    type: FILE\ntasks:\n{tasks}"
    )
}

async fn run_with(tasks: &str, file: &Path, namespace_files: Option<&Path>) -> Run {
    run_flow_opts(
        TASKS,
        &flow(tasks),
        RunOptions {
            inputs: vec![("file".into(), file.display().to_string())],
            namespace_files: namespace_files
                .map(|d| vec![("company.team".to_string(), d.to_path_buf())])
                .unwrap_or_default(),
            ..RunOptions::default()
        },
    )
    .await
}

/// Every regular file under `dir`, by path relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The files a task run wrote to storage.
fn task_files(r: &Run, task: &str) -> Vec<String> {
    files_under(&r.storage)
        .into_iter()
        .filter(|p| p.contains(&format!("/tasks/{task}/")))
        .collect()
}

#[tokio::test]
async fn a_tar_gz_made_by_tar_unpacks_by_entry_name_as_kestra_names_them() {
    let s = Scratch::new("targz");
    s.write("src/test txt folder/test txt file.txt", b"spaces\n");
    s.write("src/a/data.csv", b"id,name\n1,Ada\n");
    s.write("src/b/data.csv", b"id,name\n2,Grace\n");
    std::fs::create_dir_all(s.0.join("src/empty")).unwrap();
    sh(&s.0, "tar -C src -czf in.tar.gz .");
    let r = run_with(
        "  - id: unpack\n    type: io.kestra.plugin.compress.ArchiveDecompress\n    from: \"{{ inputs.file }}\"\n    algorithm: TAR\n    compression: GZIP\n",
        &s.0.join("in.tar.gz"),
        None,
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let files = r.outputs("unpack")["files"].as_object().unwrap().clone();
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "./a/data.csv",
            "./b/data.csv",
            "./test txt folder/test txt file.txt"
        ]
    );
    let read = |k: &str| std::fs::read_to_string(r.file(files[k].as_str().unwrap())).unwrap();
    assert_eq!(read("./a/data.csv"), "id,name\n1,Ada\n");
    assert_eq!(read("./b/data.csv"), "id,name\n2,Grace\n");
    assert_eq!(read("./test txt folder/test txt file.txt"), "spaces\n");
    // Kestra's storage name: spaces to `_`, the base name only; the second `data.csv` keeps
    // its own file instead of overwriting the first.
    assert!(
        files["./test txt folder/test txt file.txt"]
            .as_str()
            .unwrap()
            .ends_with("/test_txt_file.txt")
    );
    assert_ne!(files["./a/data.csv"], files["./b/data.csv"]);
    let metrics = r.record["metrics"].as_array().cloned().unwrap_or_default();
    let metric = |n: &str| {
        metrics
            .iter()
            .find(|m| m["name"] == n)
            .map(|m| m["value"].clone())
    };
    assert_eq!(metric("count"), Some(json!(3.0)), "{metrics:?}");
    assert_eq!(metric("size"), Some(json!(37.0)), "{metrics:?}");
}

#[tokio::test]
async fn a_zip_made_by_zip_unpacks_and_an_archive_runner_packs_is_read_by_tar_and_unzip() {
    let s = Scratch::new("zip");
    s.write("src/report.csv", b"a,b\n1,2\n");
    s.write("src/nested/notes.txt", b"hello\n");
    sh(&s.0, "cd src && zip -q -r ../in.zip report.csv nested");
    let ns = Scratch::new("zip-ns");
    ns.write("README.md", b"# namespace file\n");
    let r = run_with(
        r#"  - id: unzip
    type: io.kestra.plugin.compress.ArchiveDecompress
    from: "{{ inputs.file }}"
    algorithm: ZIP
  - id: tgz
    type: io.kestra.plugin.compress.ArchiveCompress
    from:
      data/report.csv: "{{ outputs.unzip.files['report.csv'] }}"
      docs/README.md: nsfile:///README.md
    algorithm: TAR
    compression: GZIP
  - id: zip
    type: io.kestra.plugin.compress.ArchiveCompress
    from: '{"notes.txt": "{{ outputs.unzip.files["nested/notes.txt"] }}"}'
    algorithm: ZIP
"#,
        &s.0.join("in.zip"),
        Some(&ns.0),
    )
    .await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let files = &r.outputs("unzip")["files"];
    assert_eq!(files.as_object().unwrap().len(), 2, "{files}");
    assert_eq!(
        std::fs::read_to_string(r.file(files["nested/notes.txt"].as_str().unwrap())).unwrap(),
        "hello\n"
    );

    let tgz = r.file(r.outputs("tgz")["uri"].as_str().unwrap());
    assert!(tgz.display().to_string().ends_with(".tar.gz"));
    let listing = String::from_utf8(sh(&s.0, &format!("tar -tzf {}", tgz.display()))).unwrap();
    assert_eq!(listing, "data/report.csv\ndocs/README.md\n");
    let readme = sh(&s.0, &format!("tar -xzOf {} docs/README.md", tgz.display()));
    assert_eq!(readme, b"# namespace file\n");

    let zip = r.file(r.outputs("zip")["uri"].as_str().unwrap());
    assert_eq!(
        sh(&s.0, &format!("unzip -p {} notes.txt", zip.display())),
        b"hello\n"
    );
    sh(&s.0, &format!("unzip -tq {}", zip.display()));
}

#[tokio::test]
async fn each_stream_compressor_reads_its_tools_files_and_its_tool_reads_runners() {
    let s = Scratch::new("streams");
    let text: String = (0..20_000).map(|i| format!("{i},row {i}\n")).collect();
    s.write("data.csv", text.as_bytes());
    for (compression, ext, tool) in [
        ("GZIP", "gz", "gzip"),
        ("BZIP2", "bz2", "bzip2"),
        ("XZ", "xz", "xz"),
        ("ZSTD", "zst", "zstd -q"),
        ("LZ4FRAME", "lz4", "lz4 -q"),
    ] {
        sh(&s.0, &format!("{tool} -c data.csv > data.csv.{ext}"));
        let r = run_with(
            &format!(
                "  - id: inflate\n    type: io.kestra.plugin.compress.FileDecompress\n    from: \"{{{{ inputs.file }}}}\"\n    compression: {compression}\n  - id: deflate\n    type: io.kestra.plugin.compress.FileCompress\n    from: \"{{{{ outputs.inflate.uri }}}}\"\n    compression: {compression}\n"
            ),
            &s.0.join(format!("data.csv.{ext}")),
            None,
        )
        .await;
        assert_eq!(r.state.as_str(), "SUCCESS", "{compression}: {}", r.logs);
        let inflated = r.file(r.outputs("inflate")["uri"].as_str().unwrap());
        assert_eq!(
            std::fs::read_to_string(&inflated).unwrap(),
            text,
            "{compression}"
        );
        let deflated = r.file(r.outputs("deflate")["uri"].as_str().unwrap());
        assert!(
            deflated.display().to_string().ends_with(&format!(".{ext}")),
            "{}",
            deflated.display()
        );
        let back = sh(&s.0, &format!("{tool} -dc {}", deflated.display()));
        assert!(
            back == text.as_bytes(),
            "{compression}: {tool} reads back something else"
        );
    }
}

#[tokio::test]
async fn a_zip_slip_entry_fails_the_task_and_keeps_nothing() {
    let s = Scratch::new("slip");
    // Python's tarfile writes the name as given, as an attacker's tool would.
    sh(
        &s.0,
        "python3 -c \"import tarfile, io\nwith tarfile.open('slip.tar', 'w') as t:\n  for n in ['good.txt', '../evil.txt']:\n    d = b'payload'; i = tarfile.TarInfo(n); i.size = len(d); t.addfile(i, io.BytesIO(d))\"",
    );
    let r = run_with(
        "  - id: unpack\n    type: io.kestra.plugin.compress.ArchiveDecompress\n    from: \"{{ inputs.file }}\"\n    algorithm: TAR\n",
        &s.0.join("slip.tar"),
        None,
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(
        r.logs
            .contains("Path traversal attempt detected in archive entry: ../evil.txt"),
        "{}",
        r.logs
    );
    assert_eq!(
        task_files(&r, "unpack"),
        Vec::<String>::new(),
        "good.txt was kept"
    );
    assert!(!r.storage.parent().unwrap().join("evil.txt").exists());
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_with_nothing_kept() {
    let s = Scratch::new("bomb");
    // 300 MiB of zeros in about 300 KiB: past the 256 MiB floor at a ratio near 1000.
    sh(&s.0, "head -c 314572800 /dev/zero | gzip -1 > zeros.gz");
    let r = run_with(
        "  - id: inflate\n    type: io.kestra.plugin.compress.FileDecompress\n    from: \"{{ inputs.file }}\"\n    compression: GZIP\n",
        &s.0.join("zeros.gz"),
        None,
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(
        r.logs.contains("refused as a decompression bomb"),
        "{}",
        r.logs
    );
    assert_eq!(task_files(&r, "inflate"), Vec::<String>::new());
}

#[tokio::test]
async fn a_corrupt_or_mislabelled_archive_says_what_to_check() {
    let s = Scratch::new("corrupt");
    s.write("not.zip", b"this is not an archive at all");
    let r = run_with(
        "  - id: unzip\n    type: io.kestra.plugin.compress.ArchiveDecompress\n    from: \"{{ inputs.file }}\"\n    algorithm: ZIP\n",
        &s.0.join("not.zip"),
        None,
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("cannot read the ZIP archive"), "{}", r.logs);
    assert!(
        r.logs
            .contains("check that `algorithm` and `compression` are the file's formats"),
        "{}",
        r.logs
    );

    s.write("plain.txt", b"not gzip");
    let r = run_with(
        "  - id: inflate\n    type: io.kestra.plugin.compress.FileDecompress\n    from: \"{{ inputs.file }}\"\n    compression: GZIP\n",
        &s.0.join("plain.txt"),
        None,
    )
    .await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert!(r.logs.contains("cannot read the file"), "{}", r.logs);
    assert_eq!(task_files(&r, "inflate"), Vec::<String>::new());
}

#[test]
fn formats_runner_lacks_are_refused_while_validating() {
    let registry = runner_core::Registry::new(TASKS);
    for (task, props, said) in [
        (
            "ArchiveDecompress",
            "from: x\n    algorithm: AR",
            "the AR archive format is not supported by runner: use ZIP, JAR or TAR",
        ),
        (
            "FileCompress",
            "from: x\n    compression: BROTLI",
            "Not implemented compression 'BROTLI'",
        ),
        (
            "FileDecompress",
            "from: x\n    compression: Z",
            "the Z compression is not supported by runner",
        ),
    ] {
        let yaml = format!(
            "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.compress.{task}\n    {props}\n"
        );
        let doc = runner_model::load_str(&yaml).unwrap().remove(0);
        let v = runner_core::validate(&doc, &registry, &runner_template::Renderer::new());
        let problems: Vec<String> = v
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.problem.to_string())
            .collect();
        assert!(
            problems.iter().any(|p| p.contains(said)),
            "{task}: {problems:?}"
        );
    }
}
