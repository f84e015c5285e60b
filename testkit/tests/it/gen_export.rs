//! `gen-export` as the demo and the benchmarks run it: two snapshots in the layout RDS writes,
//! and with `--facts` what it wrote.

use std::process::Command;

#[test]
fn writes_two_snapshots_and_says_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gen-export"))
        .args(["--out", dir.path().to_str().unwrap(), "--orders", "50", "--facts"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut infos: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flat_map(|export| std::fs::read_dir(export.unwrap().path()).unwrap())
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("export_info_"))
        .collect();
    infos.sort();
    assert_eq!(infos.len(), 2, "{infos:?}");
    let facts = String::from_utf8(out.stdout).unwrap();
    assert!(facts.contains("2026-11-23") && facts.contains("2026-11-24"), "{facts}");
}
